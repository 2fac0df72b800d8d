"""The proxy's fast path: a proxied host's plain requests forwarded from a raw protocol.

Through aiohttp's server and client (request, response and header objects, a task and a
client session per request) a worker forwarded about a third of what Caddy does; a plain
request needs none of that. The click fast path hands a connection here
(`ClickConnections.divert`) when its first request may be one: a head that
`parse_forwardable` takes (HTTP/1.1, no body or one `Content-Length` within `[proxy]
max_body_bytes`, no upgrade), for a proxied host, routed to its upstream (`routing`: not
one of trackway's own paths, no 308 to https). Its headers go through the same rules as
on aiohttp's path (`headers`); it goes out on a pooled connection (`relay`,
`upstream_pool`), and the answer comes back as it arrives. Anything else on the
connection (and everything after it) goes to aiohttp, whose handler forwards the rest
with the `Forwarder`. Paths aiohttp would normalise (percent-escapes, dot segments, a
leading `//`) go there too, so that both paths always route a request alike.

Both ways the framing is trackway's own (`headers.framed`): the length it reads a body
by, never what the header rules leave of the sender's. Requests on one connection are
answered in order, one at a time; a pipelined one waits in the buffer, and a client is
not read while it does not read its answers or is `MAX_BUFFERED` ahead. The connection
notes its phase for the deadlines in the click connections' table: busy while its
request is forwarded, as idle while the client does not read the answer (the upstream
is not read meanwhile either).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import cast

from config import Settings
from proxy.upstream.accounting import answered, upstream_failed, upstream_seconds
from proxy.upstream.headers import framed, is_trusted, request_headers, response_headers
from proxy.upstream.pages import error_page_bytes
from proxy.upstream.relay import UpstreamConnection
from proxy.upstream.response_head import LENGTH, NO_BODY, ResponseHead
from proxy.upstream.route import UpstreamRoute
from proxy.upstream.routing import APP_LINK_PATHS, FORWARD, decide, request_host
from proxy.upstream.upstream_pool import UpstreamFailure, UpstreamPool, key_of
from redirector.clicks import ClickConnections, TrustedProxies
from redirector.clicks.deadlines import BUSY, HEAD, IDLE
from redirector.clicks.request_head import (
    MAX_HEAD_BYTES,
    NEED_MORE,
    ForwardableRequest,
    parse_forwardable,
)

# Bytes a connection may send ahead of the request being forwarded (pipelined requests).
MAX_BUFFERED = 64 * 1024
# What may go again on a new connection when a pooled one turns out dead (as aiohttp's
# client): sent twice, no other request may do what it does twice.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


class FastForwarding:
    """One worker's fast path for proxied hosts: what its connections share."""

    def __init__(
        self,
        settings: Settings,
        connections: ClickConnections,
        routes: Callable[[], Mapping[str, UpstreamRoute]],
        own_paths: tuple[str, ...],
        proxies: TrustedProxies,
    ) -> None:
        self.settings = settings.proxy
        self.connections = connections
        self.routes = routes
        self.own_paths = own_paths
        self.proxies = proxies
        self.pool = UpstreamPool(settings.proxy, settings.dns)

    def divert(self, buffer: bytes, since: float) -> asyncio.Protocol | None:
        """The protocol for a connection the click path does not serve, whose head began
        at `since`, when its first request (in `buffer`) may be forwarded here."""
        if not self.routes():
            return None
        request = parse_forwardable(buffer)
        if request is NEED_MORE or (
            isinstance(request, ForwardableRequest) and self.route_for(request, None)
        ):
            return ProxyProtocol(self, since)
        return None

    def route_for(self, request: ForwardableRequest, scheme: str | None) -> UpstreamRoute | None:
        """The route `request` is forwarded by on this path, or None (aiohttp's to
        answer). `scheme`: None when not known yet."""
        route = self.routes().get(request_host(request.host))
        if route is None or request.content_length > self.settings.max_body_bytes:
            return None
        path = request.target.partition("?")[0]
        if "%" in path or "/." in path or path.startswith("//") or path in APP_LINK_PATHS:
            return None  # aiohttp's: its normalised path, or a file the host may serve
        verdict = decide(
            path,
            scheme=scheme or "https",
            proxied=True,
            ours=True,  # not asked of a proxied host
            own_paths=self.own_paths,
            redirect_http=self.settings.redirect_http,
        )
        return route if verdict == FORWARD else None

    async def close(self) -> None:
        await self.pool.close()


class ProxyProtocol(asyncio.Protocol):
    def __init__(self, fast: FastForwarding, since: float) -> None:
        self.fast = fast
        self.connections = fast.connections
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.phase = HEAD  # handed over with (part of) a request's head
        self.since = since
        self._scheme = "http"
        self._peer = ""
        self._trusted = False  # the peer is a proxy of ours
        self._eof = False
        self._write_paused = False
        self._upstream_full = False
        # The exchange under way (BUSY): its route, request, upstream connection …
        self._route: UpstreamRoute | None = None
        self._request: ForwardableRequest | None = None
        self._head = b""  # the request's head as sent upstream, for a retry
        self._upstream: UpstreamConnection | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._body_left = 0  # request body bytes not yet sent upstream
        self._keep_alive = True
        self._started = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)
        if transport.get_extra_info("sslcontext") is not None:  # as aiohttp's scheme
            self._scheme = "https"
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and peer:
            self._peer = str(peer[0])
        self._trusted = is_trusted(self._peer, self.fast.proxies)
        self.connections.open.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.open.discard(self)
        self.buffer = bytearray()
        self.transport = None
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        if self._upstream is not None:  # the client left: the upstream's answer is cut
            self._upstream.abandon()
            self._upstream = None

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
        self.buffer += data
        if self._route is None:
            self._serve()
        else:
            self._pump_body()
        self._update_reading()

    def eof_received(self) -> bool:
        self._eof = True
        return self._route is not None or bool(self.buffer)  # answers still owed

    def pause_writing(self) -> None:
        # The client does not read: nor is its upstream read, and its deadline runs.
        self._write_paused = True
        self.phase, self.since = IDLE, self.connections.clock()
        if self._upstream is not None:
            self._upstream.pause()
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._route is None:
            self._serve()
        else:
            self.phase = BUSY
            if self._upstream is not None:
                self._upstream.resume()
        self._update_reading()

    def _update_reading(self) -> None:
        # A client that does not read its answers is not read either (whatever the
        # phase: an answer may end while it is not read), nor one ahead by the cap.
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self._write_paused or self._upstream_full or len(self.buffer) > MAX_BUFFERED:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def _serve(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing() or self._write_paused:
            return  # resume_writing serves the rest
        if self.buffer and self._route is None:
            request = parse_forwardable(bytes(self.buffer[: MAX_HEAD_BYTES + 4]))
            if request is NEED_MORE:
                return
            route = None
            if isinstance(request, ForwardableRequest):
                route = self.fast.route_for(request, self._scheme)
            if route is None:
                self._hand_over(transport)
                return
            assert isinstance(request, ForwardableRequest)
            del self.buffer[: request.head_bytes]
            self._forward(request, route)
        elif self._eof and self._route is None:
            transport.close()

    def _forward(self, request: ForwardableRequest, route: UpstreamRoute) -> None:
        self.phase = BUSY
        self._route, self._request = route, request
        self._body_left = request.content_length
        self._keep_alive = request.keep_alive
        self._started = time.monotonic()
        # The body's framing is trackway's own, from the length it reads the body by.
        sent_length = request.content_length or any(
            name.lower() == "content-length" for name, _ in request.fields
        )
        headers = request_headers(
            request.fields,
            host_header=route.host_header_value(),
            custom_host=route.host,
            scheme=self._scheme,
            peer=self._peer,
            proxies=self.fast.proxies,
            trusted=self._trusted,
        )
        headers = framed(headers, request.content_length if sent_length else None)
        lines = "".join([f"{name}: {value}\r\n" for name, value in headers])
        head = f"{request.method} {request.target} HTTP/1.1\r\n{lines}\r\n"
        self._head = head.encode("latin-1")
        upstream = self.fast.pool.take(route)
        if upstream is not None:
            self._attach(upstream)
        else:
            self._connect(route)

    def _connect(self, route: UpstreamRoute) -> None:
        pool = self.fast.pool
        upstream = UpstreamConnection(pool, key_of(route), self.fast.settings.read_timeout)
        self._connecting = asyncio.get_running_loop().create_task(
            self._connect_then_send(route, upstream)
        )

    async def _connect_then_send(self, route: UpstreamRoute, upstream: UpstreamConnection) -> None:
        try:
            await self.fast.pool.connect(route, upstream)
        except UpstreamFailure as e:
            self._connecting = None
            self.failed(e, head_sent=False, retry=False)
            return
        self._connecting = None
        if self.transport is None:  # the client left meanwhile
            self.fast.pool.release(upstream)
            return
        self._attach(upstream)

    def _attach(self, upstream: UpstreamConnection) -> None:
        self._upstream = upstream
        request = self._request
        assert request is not None
        data = self._head
        if self._body_left:
            taken = bytes(self.buffer[: self._body_left])
            del self.buffer[: len(taken)]
            self._body_left -= len(taken)
            data += taken
        upstream.begin(self, data, request.method == "HEAD", self._body_left)
        if self._write_paused:  # the client still does not read an earlier answer
            upstream.pause()
        self._update_reading()  # the buffer may be under the cap again

    def _pump_body(self) -> None:
        upstream = self._upstream
        if upstream is None or not self._body_left or not self.buffer:
            return
        taken = bytes(self.buffer[: self._body_left])
        del self.buffer[: len(taken)]
        self._body_left -= len(taken)
        upstream.write(taken)

    # The upstream connection's side (`relay.Owner`).

    def answer_head(self, head: ResponseHead) -> bytes:
        route = self._route
        assert route is not None
        upstream_seconds(time.monotonic() - self._started)
        answered(route, head.status)
        # A body not wholly sent yet when the answer begins: the connection ends with it.
        keep_alive = self._keep_alive and not self.connections.closing and not self._body_left
        self._keep_alive = keep_alive
        fields = response_headers(head.fields, head.status)
        # The answer's end is where trackway reads it: said by trackway, not by what is
        # left of the upstream's headers. Without a body, a length frames nothing (a
        # HEAD's says the GET's): the upstream's goes on.
        if head.framing == LENGTH:
            fields = framed(fields, head.length)
        elif head.framing != NO_BODY:
            fields = framed(fields, None)
        lines = [f"HTTP/1.1 {head.status} {head.reason}\r\n"]
        lines += [f"{name}: {value}\r\n" for name, value in fields]
        extra = (
            b"" if any(n.lower() == "date" for n, _ in fields) else self.connections.date.line()
        )
        if head.framing != NO_BODY and head.framing != LENGTH:  # re-framed as chunks
            extra += b"Transfer-Encoding: chunked\r\n"
        if not keep_alive:
            extra += b"Connection: close\r\n"
        return "".join(lines).encode("latin-1") + extra + b"\r\n"

    def send(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def answer_ended(self) -> None:
        self._upstream = None
        self._route = self._request = None
        self.phase = HEAD if self.buffer else IDLE
        self.since = self.connections.clock()
        transport = self.transport
        if transport is None:
            return
        # A body the answer came before the end of: what is left of it is no request.
        if not self._keep_alive or self._body_left:
            transport.close()
            return
        self._upstream_full = False  # the upstream connection is no longer ours
        self._serve()
        self._update_reading()

    def failed(self, error: UpstreamFailure, head_sent: bool, retry: bool) -> None:
        route = self._route
        self._upstream = None
        if route is None or self.transport is None:
            return
        request = self._request
        if (
            retry
            and request is not None
            and request.method in IDEMPOTENT
            and not request.content_length
        ):
            self._connect(route)  # once: a new connection is never `used`
            return
        if head_sent:
            # The head went out: the client learns of the cut from the connection.
            upstream_failed(route, error.reason, f"after the answer's head: {error}")
            self.transport.abort()
            return
        upstream_failed(route, error.reason, f"answered {error.status}: {error}")
        answered(route, error.status)
        self._keep_alive = self._keep_alive and not self._body_left
        date = self.connections.date.line()
        is_head = request is not None and request.method == "HEAD"
        page = error_page_bytes(error.status, date, self._keep_alive, error.reason, is_head)
        self.transport.write(page)
        self.answer_ended()

    def upstream_full(self, full: bool) -> None:
        self._upstream_full = full
        self._update_reading()

    def _hand_over(self, transport: asyncio.Transport) -> None:
        """From here on aiohttp serves this connection, from the first unanswered byte."""
        self.connections.open.discard(self)
        self._upstream_full = False
        if not transport.is_reading():
            transport.resume_reading()
        protocol = self.connections.hand_over(self.since)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        buffered, self.buffer = bytes(self.buffer), bytearray()
        protocol.data_received(buffered)
        if self._eof:
            protocol.eof_received()
        self.transport = None
