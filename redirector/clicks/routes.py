"""The public routes: `/c/{token}` (click), `/a/{token}` (an app link's click: `/c/` in
a browser, JSON to an app that asks, `app_resolve`), `/o/{token}` (open), `/healthz`.

The hot path reads memory only: verify the token against the in-memory key ring, note
the hit, hand it to the writer and wait for its commit, answer. No input makes it
answer 5xx or redirect to a URL that was not signed.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from aiohttp import web

from config import ClickSettings
from redirector import metrics
from redirector.clicks.app_resolve import JSON_HEADERS, json_body, wants_json
from redirector.clicks.client_address import TrustedProxies, client_address
from redirector.links.errors import TokenError
from redirector.links.keyring import KeyRing
from redirector.links.tokens import Claims, verify
from redirector.recording.events import APP, BROWSER, CLICK, OPEN, PREFETCH, new_event_id
from redirector.recording.hits import Hit
from redirector.recording.spool_writer import SpoolWriter

# The 43-byte transparent GIF that open pixels have always been.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
assert len(PIXEL_GIF) == 43

NOT_FOUND_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>Link not found</title>"
    b"<h1>This link is not valid</h1><p>It may be mistyped, cut short or expired.</p>\n"
)
REDIRECT_HEADERS = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}
PIXEL_HEADERS = {
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
    writer: SpoolWriter
    settings: ClickSettings
    proxies: TrustedProxies = field(default_factory=TrustedProxies)  # for X-Forwarded-For
    # Whether the click routes answer for a Host header's value: None, for every host.
    # The fast path hands any other request to aiohttp, whose handler routes it (a
    # proxied host's request is forwarded, an unknown host's is misdirected).
    serves_host: Callable[[str], bool] | None = None
    _counters: dict[tuple[str, int], object] = field(default_factory=dict)

    def count(self, route: str, status: int) -> None:
        child = self._counters.get((route, status))
        if child is None:
            child = self._counters[(route, status)] = metrics.instruments().requests.labels(
                route, str(status)
            )
        child.inc()  # type: ignore[attr-defined]


def location_header(url: str) -> str:
    """The signed URL as a header value: unchanged when it is plain ASCII."""
    if url.isascii() and url.isprintable() and " " not in url:
        return url
    try:  # a byte that was not UTF-8 in the email (surrogateescape) goes back as that byte
        return quote(url, safe=_LOCATION_SAFE, errors="surrogateescape")
    except UnicodeEncodeError:  # any other lone surrogate: as its UTF-8-style bytes
        return quote(url, safe=_LOCATION_SAFE, errors="surrogatepass")


NOT_FOUND_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def not_found() -> web.Response:
    return web.Response(
        status=404,
        body=NOT_FOUND_PAGE,
        content_type="text/html",
        charset="utf-8",
        headers=NOT_FOUND_HEADERS,
    )


def click_claims(state: ClickState, token: str) -> Claims | None:
    """The claims of a token that may redirect, or None (answer 404)."""
    try:
        claims = verify(token, state.ring)
    except TokenError:
        return None
    url = claims.url
    if url[:8].lower() != "https://" and url[:7].lower() != "http://":
        return None  # an open token, or a signed URL of another scheme
    return claims


def open_claims(state: ClickState, token: str) -> Claims | None:
    try:
        return verify(token, state.ring)
    except TokenError:
        return None


def new_hit(
    claims: Claims, kind: str, user_agent: str, address: str, source: str = BROWSER
) -> Hit:
    return Hit(new_event_id(), time.time(), kind, user_agent, address, claims, source)


def _hit(
    state: ClickState,
    request: web.BaseRequest,
    claims: Claims,
    kind: str,
    source: str = BROWSER,
) -> Hit:
    forwarded_for = request.headers.getall("X-Forwarded-For", ())
    address = client_address(request.remote or "", forwarded_for, state.proxies)
    return new_hit(claims, kind, request.headers.get("User-Agent", ""), address, source)


async def click(
    state: ClickState, request: web.BaseRequest, token: str, app_link: bool = False
) -> web.Response:
    """`app_link`: asked as `/a/`; an app that asks for JSON gets the destination as
    JSON (200), recorded with source `app`; anyone else the redirect, as `/c/`."""
    claims = click_claims(state, token)
    if claims is None:
        state.count("click", 404)
        return not_found()
    kind = PREFETCH if request.method == "HEAD" else CLICK
    if app_link and wants_json(",".join(request.headers.getall("Accept", ()))):
        await state.writer.record(_hit(state, request, claims, kind, APP))
        state.count("click", 200)
        return web.Response(
            body=json_body(claims.url), content_type="application/json", headers=JSON_HEADERS
        )
    await state.writer.record(_hit(state, request, claims, kind))
    state.count("click", 302)
    headers = {"Location": location_header(claims.url), **REDIRECT_HEADERS}
    return web.Response(status=302, headers=headers)


async def open_pixel(state: ClickState, request: web.BaseRequest, token: str) -> web.Response:
    claims = open_claims(state, token)
    if claims is None:
        state.count("open", 404)
        return not_found()
    kind = PREFETCH if request.method == "HEAD" else OPEN
    await state.writer.record(_hit(state, request, claims, kind))
    state.count("open", 200)
    return web.Response(body=PIXEL_GIF, content_type="image/gif", headers=PIXEL_HEADERS)


def healthz() -> web.Response:
    return web.Response(text="ok\n", headers={"Cache-Control": "no-store"})


PrefixHandler = Callable[[web.BaseRequest, str], Awaitable[web.StreamResponse]]


class PublicHandler:
    """The public listener's request handler, for aiohttp's low-level server.

    Dispatch is by path prefix: no router, no middleware chain. On this path that is
    a third of the CPU time of a click (measured against `web.Application`).
    """

    def __init__(
        self, state: ClickState, prefixes: Mapping[str, PrefixHandler] | None = None
    ) -> None:
        self.state = state
        # Other routes by path prefix (domain checks, ACME challenges), wired by the caller.
        self.prefixes = tuple((prefixes or {}).items())

    def is_signed_link(self, path: str) -> bool:
        """Whether `path` is a click or open link that we signed: ours whatever Host it
        came with (a server reached by its address, a host not configured yet)."""
        if path.startswith(("/c/", "/a/")):
            return click_claims(self.state, path[3:]) is not None
        if path.startswith("/o/"):
            return open_claims(self.state, path[3:]) is not None
        return False

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return web.Response(
                status=405, text="method not allowed\n", headers={"Allow": "GET, HEAD"}
            )
        path = request.path
        if path.startswith("/c/"):
            return await click(self.state, request, path[3:])
        if path.startswith("/a/"):
            return await click(self.state, request, path[3:], app_link=True)
        if path.startswith("/o/"):
            return await open_pixel(self.state, request, path[3:])
        if path == "/healthz":
            return healthz()
        for prefix, handler in self.prefixes:
            if path.startswith(prefix):
                return await handler(request, path[len(prefix) :])
        return not_found()
