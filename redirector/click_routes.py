"""The public routes: `/c/{token}` (click), `/o/{token}` (open), `/healthz`.

The hot path reads memory only: verify the token against the in-memory key ring, build
the event, hand it to the writer and wait for its commit, answer. No input makes it
answer 5xx or redirect to a URL that was not signed.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web

from config import ClickSettings
from redirector import metrics
from redirector.bot_rules import request_reasons
from redirector.client_ip import client_key, stored_ip
from redirector.errors import TokenError
from redirector.event_writer import EventWriter
from redirector.events import CLICK, OPEN, PREFETCH, Event, new_event_id
from redirector.keyring import KeyRing
from redirector.tokens import Claims, verify

# The 43-byte transparent GIF that open pixels have always been.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
assert len(PIXEL_GIF) == 43

NOT_FOUND_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>Link not found</title>"
    b"<h1>This link is not valid</h1><p>It may be mistyped, cut short or expired.</p>\n"
)
_REDIRECT_HEADERS = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}
_PIXEL_HEADERS = {
    "Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0",
    "Pragma": "no-cache",
    "Expires": "0",
    "Referrer-Policy": "no-referrer",
}
# Printable ASCII but space: what a Location value keeps as it is.
_LOCATION_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


@dataclass
class ClickState:
    """What the click handlers read: all in memory."""

    ring: KeyRing
    writer: EventWriter
    settings: ClickSettings
    salt: bytes  # for client keys
    _counters: dict[tuple[str, int], object] = field(default_factory=dict)

    def count(self, route: str, status: int) -> None:
        child = self._counters.get((route, status))
        if child is None:
            child = self._counters[(route, status)] = metrics.REQUESTS.labels(route, str(status))
        child.inc()  # type: ignore[attr-defined]


CLICK_STATE = web.AppKey("click_state", ClickState)


def location_header(url: str) -> str:
    """The signed URL as a header value: unchanged when it is plain ASCII."""
    if url.isascii() and url.isprintable() and " " not in url:
        return url
    return quote(url, safe=_LOCATION_SAFE)


def not_found() -> web.Response:
    return web.Response(
        status=404,
        body=NOT_FOUND_PAGE,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _client_address(request: web.Request, trust_forwarded: bool) -> str:
    if trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",", 1)[0].strip()
    return request.remote or ""


def _event(state: ClickState, request: web.Request, claims: Claims, kind: str) -> Event:
    now = time.time()
    settings = state.settings
    address = _client_address(request, settings.trust_forwarded_for)
    user_agent = request.headers.get("User-Agent", "")
    reasons = request_reasons(
        is_head=kind == PREFETCH,
        user_agent=user_agent,
        sent_at=claims.sent_at,
        now=now,
        too_fast_seconds=settings.too_fast_seconds,
    )
    return Event(
        id=new_event_id(),
        time=now,
        kind=kind,
        key_id=claims.key_id,
        message_id=claims.message_id,
        recipient_id=claims.recipient_id,
        link_index=claims.link_index,
        url=claims.url,
        user_agent=user_agent,
        client_ip=stored_ip(address, settings.client_ip),
        client_key=client_key(address, state.salt) if address else "",
        bot=bool(reasons),
        reasons=reasons,
    )


async def click(request: web.Request) -> web.Response:
    state = request.app[CLICK_STATE]
    try:
        claims = verify(request.match_info["token"], state.ring)
    except TokenError:
        state.count("click", 404)
        return not_found()
    url = claims.url
    if url[:8].lower() != "https://" and url[:7].lower() != "http://":
        state.count("click", 404)  # an open token, or a signed URL of another scheme
        return not_found()
    kind = PREFETCH if request.method == "HEAD" else CLICK
    await state.writer.record(_event(state, request, claims, kind))
    state.count("click", 302)
    headers = {"Location": location_header(url), **_REDIRECT_HEADERS}
    return web.Response(status=302, headers=headers)


async def open_pixel(request: web.Request) -> web.Response:
    state = request.app[CLICK_STATE]
    try:
        claims = verify(request.match_info["token"], state.ring)
    except TokenError:
        state.count("open", 404)
        return not_found()
    kind = PREFETCH if request.method == "HEAD" else OPEN
    await state.writer.record(_event(state, request, claims, kind))
    state.count("open", 200)
    return web.Response(body=PIXEL_GIF, content_type="image/gif", headers=_PIXEL_HEADERS)


async def unknown(request: web.Request) -> web.Response:
    return not_found()


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n", headers={"Cache-Control": "no-store"})


def add_click_routes(app: web.Application) -> None:
    app.router.add_get("/c/{token}", click)
    app.router.add_get("/o/{token}", open_pixel)
    app.router.add_get("/healthz", healthz)


def add_fallback_route(app: web.Application) -> None:
    """Anything else gets the same short page (added last: it matches every path)."""
    app.router.add_route("*", "/{tail:.*}", unknown)
