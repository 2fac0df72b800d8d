"""aiohttp's side of the public listener: the connections the fast path hands over.

From the hand-over on, aiohttp's `RequestHandler` serves a connection. This subclass
keeps it under the same deadlines as the fast path's (it notes its phase, which the
sweeps of `ClickConnections` read; an answer waiting for a client that does not read
is the client's doing, under a deadline, as on the fast path) and turns aiohttp's
traceback for each malformed request into a count and, now and then, one line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader

from redirector.clicks.deadlines import BODY, BUSY, HEAD, IDLE

if TYPE_CHECKING:
    from redirector.clicks.connections import ClickConnections

# A blank line ends a head: after an answer, a connection whose last bytes ended with
# one holds no unfinished request (IDLE); any other may (HEAD, the shorter deadline).
_HEAD_ENDS = (b"\r\n\r\n", b"\n\n")

# aiohttp's parse errors (by class name: they moved between versions) -> the reason
# counted in `trackway_bad_requests_total`; any other parse error is "bad_message".
_REASONS = {
    "BadHttpMethod": "bad_method",
    "BadStatusLine": "bad_request_line",
    "LineTooLong": "too_long",
    "InvalidHeader": "bad_header",
    "InvalidURLError": "bad_url",
    "PayloadEncodingError": "bad_body",
}


def bad_request_reason(error: BaseException) -> str:
    for cls in type(error).__mro__:
        reason = _REASONS.get(cls.__name__)
        if reason is not None:
            return reason
    return "bad_message"


class FallbackHandler(web.RequestHandler):
    __slots__ = ("_at_rest", "_body", "_connections", "_quiet", "phase", "since")

    def __init__(self, manager: web.Server, connections: ClickConnections, since: float) -> None:
        limits = connections.limits
        slack = 2 * limits.sweep_seconds
        super().__init__(
            manager,
            loop=asyncio.get_running_loop(),
            # aiohttp's own timers only back the sweeps up: those close first, saying why.
            keepalive_timeout=limits.idle_seconds + slack,
            lingering_time=limits.body_seconds + slack,
        )
        self._connections = connections
        self.phase = HEAD  # handed over with (part of) a request's head
        self.since = since
        self._at_rest = False
        self._body: StreamReader | None = None
        self._quiet = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._connections.open.add(self)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._connections.open.discard(self)
        super().connection_lost(exc)

    def abort(self) -> None:
        self._connections.open.discard(self)
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.phase == IDLE:
            self.phase, self.since = HEAD, self._connections.clock()
        self._at_rest = data.endswith(_HEAD_ENDS)
        super().data_received(data)
        if self.phase == BODY and self._body is not None and self._body.is_eof():
            self._rest()

    async def _drain_helper(self) -> None:
        # aiohttp waits here, and only here, for the client to read what was written:
        # the event is durable by then, so the wait is under a deadline, as on the fast
        # path (IDLE or HEAD from when it began, as what was received ends).
        if self.phase != BUSY or not self.writing_paused:
            return await super()._drain_helper()
        self.phase = IDLE if self._at_rest else HEAD
        self.since = self._connections.clock()
        try:
            await super()._drain_helper()
        finally:
            if self.phase in (IDLE, HEAD):
                self.phase = BUSY

    def head_done(self) -> None:
        """A request's head was read: it is being answered."""
        self.phase = BUSY

    def log_access(self, request: web.BaseRequest, response: Any, time: Any) -> None:
        # aiohttp calls this once each answer is written (there is no access log here).
        body = request.content
        if body.is_eof():
            self._rest()
        else:
            self._body = body
            self.phase, self.since = BODY, self._connections.clock()

    def _rest(self) -> None:
        self._body = None
        self.phase = IDLE if self._at_rest else HEAD
        self.since = self._connections.clock()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if isinstance(exc, HttpProcessingError):  # the client's doing: no traceback
            self._connections.bad_request(bad_request_reason(exc), request.remote)
            self._quiet = True
        try:
            return super().handle_error(request, status, exc, message)
        finally:
            self._quiet = False

    def log_exception(self, *args: Any, **kw: Any) -> None:
        if not self._quiet:
            super().log_exception(*args, **kw)


def fallback_server(
    handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
) -> web.Server:
    """The aiohttp server whose protocol `FallbackHandler` is: its requests mark their
    connection busy as they start."""
    loop = asyncio.get_running_loop()

    def request(
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: web.RequestHandler,
        writer: AbstractStreamWriter,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        cast(FallbackHandler, protocol).head_done()
        return web.BaseRequest(message, payload, protocol, writer, task, loop)

    return web.Server(handler, request_factory=request)
