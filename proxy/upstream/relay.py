"""One connection to an upstream, relaying one exchange at a time for the proxy's fast
path: the request's bytes out, the answer read and passed on as it arrives. Network I/O.

The answer's body goes to the client in the framing it came in when that is a length,
and chunked otherwise (an answer ended by the upstream's close would end the client's
connection too): each piece is written as it is read, and the owner pauses this
connection's reading while its client does not read (`pause`), so a connection holds
one read's worth of the body at most. `[proxy] read_timeout` bounds each wait for the
upstream's next bytes, except while paused for the client. The connection goes back to
its pool when the answer ended cleanly and the whole request went out.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, cast

from proxy.upstream.response_head import (
    CHUNKED,
    LAST_CHUNK,
    LENGTH,
    NO_BODY,
    UNTIL_CLOSE,
    ChunkedBody,
    Malformed,
    ResponseHead,
    chunk,
    parse_response,
)
from proxy.upstream.upstream_pool import Key, UpstreamFailure, UpstreamPool


class Owner(Protocol):
    """The client's side of an exchange (`fast_forward.ProxyProtocol`)."""

    def answer_head(self, head: ResponseHead) -> bytes: ...  # the client's head, to send

    def send(self, data: bytes) -> None: ...

    def answer_ended(self) -> None: ...

    def failed(self, error: UpstreamFailure, head_sent: bool, retry: bool) -> None: ...

    def upstream_full(self, full: bool) -> None: ...  # pause reading the request's body


class UpstreamConnection(asyncio.Protocol):
    def __init__(self, pool: UpstreamPool, key: Key, read_timeout: float) -> None:
        self.pool = pool
        self.key = key
        self.read_timeout = read_timeout
        self.transport: asyncio.Transport | None = None
        self.owner: Owner | None = None
        self.used = False  # an exchange went through it before the current one
        self.idle_since = 0.0  # time.monotonic() when it last went back to its pool
        self._loop = asyncio.get_running_loop()
        self._buffer = b""
        self._head: ResponseHead | None = None
        self._to_head = False
        self._body_left = 0  # request bytes still to send
        self._left = 0  # LENGTH: answer bytes still to come
        self._chunks: ChunkedBody | None = None
        self._got_bytes = False
        self._spoiled = False  # bytes came past the answer's end
        self._paused = False
        self._read_at = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def usable(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def begin(self, owner: Owner, data: bytes, to_head: bool, body_left: int) -> None:
        """Send a request (`data`: its head and what is at hand of its body; `body_left`
        bytes of body to come by `write`), and relay its answer to `owner`."""
        assert self.transport is not None
        self.owner = owner
        self._to_head = to_head
        self._body_left = body_left
        self._head = None
        self._got_bytes = False
        self._spoiled = False
        self._read_at = self._loop.time()
        if self._timer is None:  # else the one armed for an earlier exchange goes on
            self._timer = self._loop.call_at(self._read_at + self.read_timeout, self._check_read)
        self.transport.write(data)

    def write(self, data: bytes) -> None:
        """More of the request's body."""
        self._body_left -= len(data)
        if self.transport is not None:
            self.transport.write(data)

    def pause(self) -> None:
        """The client does not read: neither does this connection, for now."""
        self._paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume(self) -> None:
        self._paused = False
        self._read_at = self._loop.time()  # the wait for the upstream starts again
        if self.transport is not None:
            self.transport.resume_reading()

    def abandon(self) -> None:
        """The client left mid-exchange: this connection is closed, not pooled."""
        self.owner = None
        self._stop_timer()
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def pause_writing(self) -> None:
        if self.owner is not None:
            self.owner.upstream_full(True)

    def resume_writing(self) -> None:
        if self.owner is not None:
            self.owner.upstream_full(False)

    def data_received(self, data: bytes) -> None:
        owner = self.owner
        if owner is None:  # an idle connection has nothing to say
            self.close()
            return
        self._got_bytes = True
        self._read_at = self._loop.time()
        out = b""
        head = self._head
        if head is None:
            self._buffer += data
            try:
                head = self._read_head()
            except Malformed as e:
                self._fail(UpstreamFailure(502, "broken", f"malformed answer: {e}"))
                return
            if head is None:
                return
            data, self._buffer = self._buffer[head.head_bytes :], b""
            out = owner.answer_head(head)
            self._head = head
            self._left = head.length
            self._chunks = ChunkedBody() if head.framing == CHUNKED else None
        try:
            done, data = self._body(head, data)
        except Malformed as e:
            if out:
                owner.send(out)  # the head, counted already: then the cut
            self._fail(UpstreamFailure(502, "broken", f"malformed answer: {e}"))
            return
        if out or data:
            owner.send(out + data if out else data)
        if done:
            self._finish()

    def _read_head(self) -> ResponseHead | None:
        while True:
            head = parse_response(self._buffer, to_head=self._to_head)
            if head is None or head.status >= 200:
                return head
            if head.status == 101:
                raise Malformed("101 to a request that asked for no upgrade")
            self._buffer = self._buffer[head.head_bytes :]  # 100, 103 …: for this hop

    def _body(self, head: ResponseHead, data: bytes) -> tuple[bool, bytes]:
        """Whether the answer ended, and what of `data` goes to the client (framed)."""
        framing = head.framing
        # Bytes past the answer's end are no answer to anything: they are dropped, and
        # the connection is not used again.
        if framing == LENGTH:
            if len(data) > self._left:
                data, self._spoiled = data[: self._left], True
            self._left -= len(data)
            return self._left == 0, data
        if framing == NO_BODY:
            self._spoiled = bool(data)
            return True, b""
        if framing == UNTIL_CLOSE:
            return False, chunk(data) if data else b""
        chunks = self._chunks
        assert chunks is not None
        out = b"".join(chunk(piece) for piece in chunks.feed(data) if piece)
        if chunks.done:
            self._spoiled = chunks.extra > 0
            return True, out + LAST_CHUNK
        return False, out

    def _finish(self) -> None:
        # The timer stays: it stops by itself when it finds no exchange, and a request
        # that comes before then spares making another (one a request, otherwise).
        owner, self.owner = self.owner, None
        self.used = True
        head = self._head
        reusable = head is not None and head.reusable and not self._spoiled
        if reusable and self._body_left == 0 and self.usable():
            if self._paused:
                self.resume()
            self.pool.release(self)
        else:
            self.close()
        if owner is not None:
            owner.answer_ended()

    def _fail(self, error: UpstreamFailure) -> None:
        self._stop_timer()
        owner, self.owner = self.owner, None
        if self.transport is not None:
            self.transport.abort()
        if owner is not None:
            # A pooled connection the upstream had closed before this request came:
            # nothing was answered, so the request may go again on a new one.
            retry = self.used and not self._got_bytes and error.reason == "broken"
            owner.failed(error, self._head is not None, retry)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._stop_timer()
        self.pool.forget(self)
        if self.owner is None:
            return
        head = self._head
        if head is not None and head.framing == UNTIL_CLOSE:
            self.owner.send(LAST_CHUNK)
            self._finish()
            return
        self._fail(UpstreamFailure(502, "broken", f"closed by the upstream: {exc!r}"))

    def _check_read(self) -> None:
        self._timer = None
        if self.owner is None:
            return  # idle: the next exchange arms it again
        now = self._loop.time()
        if self._paused:
            due = now + self.read_timeout
        else:
            due = self._read_at + self.read_timeout
            if now >= due:
                self._fail(UpstreamFailure(504, "read_timeout", f"over {self.read_timeout} s"))
                return
        self._timer = self._loop.call_at(due, self._check_read)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
