"""The proxy's fast path against what a review found (real servers on loopback): the
framing of what it forwards is always its own, both ways; a client that does not read
holds no more than the buffer cap; trackway's own pages to a HEAD carry no body; only
idempotent requests go again; idle upstream connections expire."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from proxy.upstream import upstream_pool
from proxy.upstream.headers import Headers, request_headers
from tests.proxy.upstream.conftest import (
    CLOSE,
    Front,
    ScriptedUpstream,
    read_answer,
    request,
    route,
)
from tests.support.challtestsrv import free_port
from tests.support.upstreams import MIB

pytestmark = pytest.mark.usefixtures("fast_path_only")

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
# A request hidden in a body: a second request to whoever reads the body as one.
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: other.example\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n"


async def test_the_body_goes_upstream_framed_by_trackway_whatever_the_headers_say(
    front: Front, scripted: ScriptedUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Header rules that lost the client's Content-Length and added a framing of their
    # own (as a `Connection: content-length` did): the body must not become a request.
    def lossy(headers: Headers, **kwargs: object) -> Headers:
        ruled = request_headers(headers, **kwargs)  # type: ignore[arg-type]
        kept = [(n, v) for n, v in ruled if n.lower() != "content-length"]
        return [*kept, ("Transfer-Encoding", "chunked"), ("content-length", "0")]

    monkeypatch.setattr("proxy.upstream.fast_forward.request_headers", lossy)
    upstream = await scripted(lambda h, n: [OK])
    port = await front(route(upstream.port))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request("/form", method="POST", body=SMUGGLED) + request("/after"))
    for _ in range(2):
        assert (await read_answer(reader))[0] == 200
    writer.close()
    (form_head, form_body), (after_head, _) = upstream.received
    assert form_body == SMUGGLED
    framing = [line for line in form_head.lower().split(b"\r\n") if b"length" in line]
    assert framing == [b"content-length: %d" % len(SMUGGLED)]
    assert b"transfer-encoding" not in form_head.lower()
    assert after_head.startswith(b"GET /after ")


async def test_the_answer_is_framed_by_trackway_when_the_upstream_names_its_length_hop_by_hop(
    front: Front, scripted: ScriptedUpstream
) -> None:
    answer = b"HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 2\r\n\r\nok"
    upstream = await scripted(lambda h, n: [answer])
    port = await front(route(upstream.port))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request("/1") + request("/2"))
    for _ in range(2):  # the first one's end is where it should be: the second reads
        status, fields, body = await read_answer(reader)
        assert (status, fields["content-length"], body) == (200, "2", b"ok")
    writer.close()


async def test_a_head_request_gets_trackways_page_without_its_body(front: Front) -> None:
    port = await front(route(free_port()))  # nobody listens there: a 502
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request("/", method="HEAD") + request("/again"))
    status, fields, _ = await read_answer(reader, to_head=True)
    assert (status, fields["cache-control"]) == (502, "no-store")
    assert int(fields["content-length"]) > 0  # the GET's, as a HEAD's answer says
    # The connection goes on right after the head: the next answer is the next request's.
    status, fields, body = await read_answer(reader)
    assert status == 502
    assert b"Bad gateway" in body
    writer.close()


@pytest.mark.parametrize(("method", "sent"), [("POST", 1), ("PATCH", 1), ("DELETE", 2)])
async def test_only_an_idempotent_request_goes_again_after_a_dead_pooled_connection(
    front: Front, scripted: ScriptedUpstream, method: str, sent: int
) -> None:
    upstream = await scripted(lambda h, nth: [OK] if nth == 0 else [CLOSE])
    port = await front(route(upstream.port))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request("/1"))
    assert (await read_answer(reader))[0] == 200
    writer.write(request("/pay", method=method))
    status, _, _ = await read_answer(reader)
    assert status == (502 if sent == 1 else 200)
    writer.close()
    assert sum(head.startswith(method.encode()) for head, _ in upstream.received) == sent


async def test_idle_upstream_connections_expire(
    front: Front, scripted: ScriptedUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A connection that went quiet (a NAT forgot it) swallows what is sent on it: one
    # idle for longer than the pool keeps them is never used again.
    monkeypatch.setattr(upstream_pool, "IDLE_SECONDS", 0.2)
    upstream = await scripted(lambda h, nth: [OK] if nth == 0 else [])
    port = await front(route(upstream.port), read_timeout=3)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request("/1"))
    assert (await read_answer(reader))[0] == 200
    await asyncio.sleep(0.7)
    assert upstream.ended == 1  # closed while idle, with no request to notice it
    writer.write(request("/2"))
    assert (await read_answer(reader))[0] == 200  # at once, not a 504 after 3 s
    writer.close()
    assert upstream.connections == 2


def _client_that_does_not_read(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


async def _send_until_stopped(writer: asyncio.StreamWriter, data: bytes, times: int) -> int:
    """How many times `data` went out before trackway stopped reading (2 s each)."""
    sent = 0
    try:
        for _ in range(times):
            writer.write(data)
            await asyncio.wait_for(writer.drain(), 2)
            sent += 1
    except (TimeoutError, ConnectionError):
        pass
    return sent


async def test_a_pipelining_client_that_does_not_read_is_not_read_either(
    front: Front, scripted: ScriptedUpstream, peak_rss: Callable[[], float]
) -> None:
    # Each answer ends (the upstream sent it whole) while writes to the client are
    # paused: the requests behind it must wait in the socket, not in trackway.
    body = b"y" * 10_000
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    upstream = await scripted(lambda h, n: [answer])
    port = await front(route(upstream.port))
    _, writer = await asyncio.open_connection(sock=_client_that_does_not_read(port))
    one = request("/x")
    sent = await _send_until_stopped(writer, one * (MIB // len(one)), 40)
    writer.transport.abort()
    assert sent < 10, f"{sent} MiB of requests taken from a client that reads nothing"
    assert peak_rss() < 30
