"""A hit: the raw facts of one request, as the click handler sees them, and how it
becomes a recorded event.

The handler only gathers these (cheap); turning a hit into a recorded event (client
key, stored address, bot reasons) happens in the loader, off the hot path. Pure.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
from typing import NamedTuple

from config import ClickSettings
from redirector.links.tokens import Claims
from redirector.recording.bot_rules import request_reasons
from redirector.recording.events import BROWSER, PREFETCH, Event, storable


class Hit(NamedTuple):
    """What the handler knows of a request: the token's verified claims, as they are (no
    copy: the handler only builds this), and the request's own facts."""

    event_id: str
    time: float
    kind: str
    user_agent: str
    address: str
    claims: Claims
    source: str = BROWSER  # events.SOURCES: APP for an app's JSON resolve of `/a/`


def event_from_hit(hit: Hit, settings: ClickSettings, salt: bytes) -> Event:
    claims = hit.claims
    reasons = request_reasons(
        is_head=hit.kind == PREFETCH,
        user_agent=hit.user_agent,
        sent_at=claims.sent_at,
        now=hit.time,
        too_fast_seconds=settings.too_fast_seconds,
    )
    return Event(
        id=hit.event_id,
        time=hit.time,
        kind=hit.kind,
        key_id=claims.key_id,
        message_id=storable(claims.message_id),
        recipient_id=storable(claims.recipient_id),
        link_index=claims.link_index,
        url=storable(claims.url),
        user_agent=storable(hit.user_agent),
        client_ip=stored_ip(hit.address, settings.client_ip),
        client_key=client_key(hit.address, salt) if hit.address else "",
        bot=bool(reasons),
        reasons=reasons,
        label=None if claims.label is None else storable(claims.label),
        source=hit.source,
    )


# What is kept of a client's address, per the `clicks.client_ip` setting.
# A big send's clicks come from the same addresses (gateways, offices) again and again.
@functools.lru_cache(maxsize=16384)
def stored_ip(address: str, mode: str) -> str | None:
    if mode == "none" or not address:
        return None
    if mode == "full":
        return address
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


@functools.lru_cache(maxsize=16384)
def client_key(address: str, salt: bytes) -> str:
    """A stable pseudonym of the full address, for finding bursts whatever is stored."""
    data = address.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=8, key=salt[:64]).hexdigest()
