"""The public listener's protocol: plain clicks answered here, the rest by aiohttp.

Through aiohttp's request machinery (request, header and response objects, a task per
request) a click cost a worker about 87 µs of CPU; answered here, about 44 µs with the
writer faked out (CPU times under wrk on this project's 2-core machine, 2026-12-01).
So each connection starts here: a request that `request_head` calls plain (`GET` or
`HEAD` of `/c/…`, `/o/…`, `/healthz`, no body, no odd header) for a host whose clicks
trackway serves (`ClickState.serves_host`: not a proxied one) is verified, handed to
the writer and answered from this protocol's callbacks, with no task and no objects
beyond the hit. At the first request that is not plain, the connection and every byte
not yet answered go to aiohttp's `RequestHandler`, which serves it from then on (other
routes, queries, bodies, errors): both paths answer a click the same way.

Requests on one connection are answered in order, one at a time (a pipelined request
waits in the buffer until the one before it is committed and answered). Each connection
notes its phase for the deadlines (`deadlines`), in the table of `connections`, which
keeps it there after a hand-over too.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import TYPE_CHECKING, cast

from redirector.clicks.client_address import client_address, plain_peer
from redirector.clicks.deadlines import BUSY, HEAD, IDLE
from redirector.clicks.request_head import NEED_MORE, NOT_PLAIN, PlainRequest, parse_plain
from redirector.clicks.routes import (
    NOT_FOUND_HEADERS,
    NOT_FOUND_PAGE,
    PIXEL_GIF,
    PIXEL_HEADERS,
    REDIRECT_HEADERS,
    click_claims,
    location_header,
    new_hit,
    open_claims,
)
from redirector.recording.events import CLICK, OPEN, PREFETCH

if TYPE_CHECKING:
    from redirector.clicks.connections import ClickConnections

# Bytes a connection may send ahead while its request waits for a commit.
MAX_BUFFERED = 64 * 1024


def _header_lines(headers: dict[str, str]) -> bytes:
    return b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers.items())


_REDIRECT_TAIL = _header_lines(REDIRECT_HEADERS) + b"Content-Length: 0\r\n"
_PIXEL_TAIL = _header_lines(
    PIXEL_HEADERS
) + b"Content-Type: image/gif\r\nContent-Length: %d\r\n" % len(PIXEL_GIF)
_NOT_FOUND_TAIL = _header_lines(
    NOT_FOUND_HEADERS
) + b"Content-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n" % len(NOT_FOUND_PAGE)
_HEALTHZ_BODY = b"ok\n"
_HEALTHZ_TAIL = b"Cache-Control: no-store\r\nContent-Type: text/plain; charset=utf-8\r\n" + (
    b"Content-Length: %d\r\n" % len(_HEALTHZ_BODY)
)


class HttpDate:
    """The Date header, formatted once a second rather than once a response."""

    def __init__(self) -> None:
        self._second = -1
        self._line = b""

    def line(self) -> bytes:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._line = b"Date: %s\r\n" % email.utils.formatdate(second, usegmt=True).encode()
        return self._line


def response(
    status: bytes, tail: bytes, date: bytes, keep_alive: bool, body: bytes = b""
) -> bytes:
    connection = b"" if keep_alive else b"Connection: close\r\n"
    return b"HTTP/1.1 %s\r\n%s%s%s\r\n%s" % (status, tail, date, connection, body)


class ClickProtocol(asyncio.Protocol):
    def __init__(self, connections: ClickConnections) -> None:
        self.connections = connections
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.phase = IDLE  # BUSY while a request's event is being committed
        self.since = 0.0
        self._address = ""
        # The answer whose event is being committed (BUSY): bytes, route, status, keep-alive.
        self._pending: tuple[bytes, str, int, bool] | None = None
        self._eof = False
        self._read_paused = False
        self._write_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but are one.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:  # as aiohttp's request.remote
            self._address = str(peer[0])
            if self._address[:7].lower() == "::ffff:":
                self._address = plain_peer(self._address)
        self.since = self.connections.clock()
        self.connections.admit(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.open.discard(self)
        self.buffer = b""

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.connections.open.discard(self)
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.phase == IDLE:
            self.phase, self.since = HEAD, self.connections.clock()
        if not self.buffer:
            self.buffer = data
        else:
            self.buffer += data
        if self.phase != BUSY:
            self._serve()
        elif len(self.buffer) > MAX_BUFFERED:
            self._read_paused = True
            self._update_reading()

    def eof_received(self) -> bool:
        self._eof = True
        # Keep the transport open for answers still owed: one on its way, or requests
        # waiting in the buffer (a client that pipelines, then half-closes).
        return self.phase == BUSY or bool(self.buffer)

    def pause_writing(self) -> None:
        self._write_paused = True  # a client that does not read gets no more answers
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()
        if self.phase != BUSY:
            self._serve()

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._read_paused or self._write_paused:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def _serve(self) -> None:
        transport = self.transport
        while self.buffer:
            if transport is None or transport.is_closing():
                return
            if self._write_paused:
                return  # resume_writing serves the rest
            request = parse_plain(self.buffer)
            if request is NEED_MORE:
                break
            if request is NOT_PLAIN:
                self._hand_over(transport)
                return
            assert isinstance(request, PlainRequest)
            serves_host = self.connections.state.serves_host
            if serves_host is not None and not serves_host(request.host):
                self._hand_over(transport)
                return
            self.buffer = self.buffer[request.head_bytes :]
            if not self._answer_now(transport, request):
                return
            self._rest()
        if self._eof and self.phase != BUSY and transport is not None:
            transport.close()

    def _rest(self) -> None:
        """An answer went out: what is left in the buffer is the next request's head."""
        self.phase = HEAD if self.buffer else IDLE
        self.since = self.connections.clock()

    def _answer_now(self, transport: asyncio.Transport, request: PlainRequest) -> bool:
        """Answer `request`, or start committing its event; False unless more may follow."""
        connections = self.connections
        state = connections.state
        keep_alive = request.keep_alive and not connections.closing
        date = connections.date.line()
        path = request.path
        if path == "/healthz":
            body = b"" if request.is_head else _HEALTHZ_BODY
            transport.write(response(b"200 OK", _HEALTHZ_TAIL, date, keep_alive, body))
            return self._after_answer(transport, keep_alive)
        if path[1] != "o":  # "/c/", or "/a/" asked by no app (`request_head`)
            route = "click"
            claims = click_claims(state, path[3:])
        else:
            route = "open"
            claims = open_claims(state, path[3:])
        if claims is None:
            state.count(route, 404)
            body = b"" if request.is_head else NOT_FOUND_PAGE
            transport.write(response(b"404 Not Found", _NOT_FOUND_TAIL, date, keep_alive, body))
            return self._after_answer(transport, keep_alive)
        if route == "click":
            kind = PREFETCH if request.is_head else CLICK
            location = b"Location: %s\r\n" % location_header(claims.url).encode("ascii")
            answer = response(b"302 Found", location + _REDIRECT_TAIL, date, keep_alive)
            self._pending = (answer, route, 302, keep_alive)
        else:
            kind = PREFETCH if request.is_head else OPEN
            body = b"" if request.is_head else PIXEL_GIF
            answer = response(b"200 OK", _PIXEL_TAIL, date, keep_alive, body)
            self._pending = (answer, route, 200, keep_alive)
        address = self._address
        if request.forwarded_for:
            address = client_address(address, (request.forwarded_for,), state.proxies)
        hit = new_hit(claims, kind, request.user_agent, address)
        self.phase = BUSY
        state.writer.record_then(hit, self._committed)
        return False

    def _committed(self) -> None:
        assert self._pending is not None
        (answer, route, status, keep_alive), self._pending = self._pending, None
        self._rest()
        transport = self.transport
        if transport is None or transport.is_closing():
            return  # the client left; its event is recorded all the same
        transport.write(answer)
        self.connections.state.count(route, status)
        if not self._after_answer(transport, keep_alive):
            return
        if self._read_paused:
            self._read_paused = False
            self._update_reading()
        self._serve()

    def _after_answer(self, transport: asyncio.Transport, keep_alive: bool) -> bool:
        if keep_alive:
            return True
        transport.close()
        return False

    def _hand_over(self, transport: asyncio.Transport) -> None:
        """From here on aiohttp (or the proxy's fast path: `ClickConnections.divert`)
        serves this connection, from the first unanswered byte, under the same
        deadlines (its head's counted from when it began)."""
        self.connections.open.discard(self)
        if self._read_paused or self._write_paused:
            self._read_paused = self._write_paused = False
            transport.resume_reading()
        protocol = self.connections.next_protocol(self.buffer, self.since)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        buffered, self.buffer = self.buffer, b""
        protocol.data_received(buffered)
        if self._eof:
            protocol.eof_received()
        self.transport = None
