"""A hit: the raw facts of one request, as the click handler sees them.

The handler only gathers these (cheap); turning a hit into a recorded event (client
key, stored address, bot reasons) happens in the writer, off the hot path.
"""

from __future__ import annotations

from typing import NamedTuple

from config import ClickSettings
from redirector.recording.bot_rules import request_reasons
from redirector.recording.client_ip import client_key, stored_ip
from redirector.recording.events import PREFETCH, Event, storable


class Hit(NamedTuple):
    event_id: str
    time: float
    kind: str
    key_id: str
    message_id: str
    recipient_id: str
    link_index: int
    url: str
    sent_at: int
    user_agent: str
    address: str


def event_from_hit(hit: Hit, settings: ClickSettings, salt: bytes) -> Event:
    reasons = request_reasons(
        is_head=hit.kind == PREFETCH,
        user_agent=hit.user_agent,
        sent_at=hit.sent_at,
        now=hit.time,
        too_fast_seconds=settings.too_fast_seconds,
    )
    return Event(
        id=hit.event_id,
        time=hit.time,
        kind=hit.kind,
        key_id=hit.key_id,
        message_id=storable(hit.message_id),
        recipient_id=storable(hit.recipient_id),
        link_index=hit.link_index,
        url=storable(hit.url),
        user_agent=storable(hit.user_agent),
        client_ip=stored_ip(hit.address, settings.client_ip),
        client_key=client_key(hit.address, salt) if hit.address else "",
        bot=bool(reasons),
        reasons=reasons,
    )
