"""The proxy's fast path (no aiohttp between client and upstream) with real servers on
loopback: every request here is one it takes, and aiohttp's forwarder is made to fail
if it is asked. Keep-alive both ways, pipelining, bodies, every framing of an answer,
clients that do not read and upstreams that break off."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

import aiohttp
import pytest
import trustme

from config import Settings
from proxy.serve.listeners import bind_socket
from proxy.serve.public_app import PublicService
from tests.proxy.upstream.conftest import (
    CLOSE,
    CUSTOM,
    Front,
    ScriptedUpstream,
    read_answer,
    request,
    route,
    sample,
)
from tests.support.upstreams import MIB, Upstream

pytestmark = pytest.mark.usefixtures("fast_path_only")


@pytest.fixture
async def upstream_and_front(front: Front, http_upstream: Upstream) -> tuple[Upstream, int]:
    return http_upstream, await front(route(http_upstream.port))


async def test_keep_alive_both_ways_and_pipelined_requests_in_order(
    upstream_and_front: tuple[Upstream, int],
) -> None:
    upstream, port = upstream_and_front
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # Three requests in one write: answered in order, one at a time.
    writer.write(request("/1") + request("/2?x=1") + request("/3", method="HEAD"))
    for _ in range(2):
        status, fields, body = await read_answer(reader)
        assert (status, body) == (200, b"from the platform")
    status, fields, body = await read_answer(reader, to_head=True)
    assert status == 200
    assert fields["content-length"] == str(len(b"from the platform"))  # a HEAD's, no body
    writer.write(request("/4", "Connection: close"))
    status, fields, body = await read_answer(reader)
    assert fields["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), 5) == b""  # and closed after it
    writer.close()
    # A second client connection reuses the upstream's.
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"http://127.0.0.1:{port}/5", headers={"Host": CUSTOM}) as r,
    ):
        assert r.status == 200
    received = upstream.received
    assert [(g.method, g.target) for g in received] == [
        ("GET", "/1"),
        ("GET", "/2?x=1"),
        ("HEAD", "/3"),
        ("GET", "/4"),
        ("GET", "/5"),
    ]
    assert len({g.header("X-Peer-Port")[0] for g in received}) == 1
    assert all(g.header("Connection") == [] for g in received)  # the client's stays on its hop


async def test_a_body_arriving_in_parts_reaches_the_upstream(
    upstream_and_front: tuple[Upstream, int],
) -> None:
    upstream, port = upstream_and_front
    body = b"email=a%40b.example&" + b"x" * 100_000
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    form = "Content-Type: application/x-www-form-urlencoded"
    whole = request("/form", form, method="POST", body=body)
    writer.write(whole[:50])
    await asyncio.sleep(0.05)
    writer.write(whole[50:70_000])
    await asyncio.sleep(0.05)
    writer.write(whole[70_000:] + request("/after"))  # and the next request right behind it
    assert (await read_answer(reader))[0] == 200
    assert (await read_answer(reader))[0] == 200
    writer.close()
    first, after = upstream.received
    assert (first.method, first.body) == ("POST", body)
    assert first.header("Content-Length") == [str(len(body))]
    assert (after.target, after.body) == ("/after", b"")


async def test_a_chunked_answer_is_passed_on_in_chunks(
    front: Front, scripted: ScriptedUpstream
) -> None:
    def script(head: bytes, nth: int) -> list[bytes]:
        return [
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Platform: 1\r\n\r\n",
            b"5;ext=1\r\nhello\r\n",
            b"7\r\n, world\r\n0\r\nX-Trailer: dropped\r\n\r\n",
        ]

    upstream = await scripted(script)
    port = await front(route(upstream.port))
    async with aiohttp.ClientSession() as client:
        for _ in range(2):  # the framing ends where it should: the connection goes on
            async with client.get(f"http://127.0.0.1:{port}/c", headers={"Host": CUSTOM}) as r:
                assert r.status == 200
                assert r.headers["Transfer-Encoding"] == "chunked"
                assert r.headers["X-Platform"] == "1"
                assert await r.read() == b"hello, world"
    assert upstream.connections == 1


async def test_an_answer_ended_by_the_upstreams_close_goes_on_in_chunks(
    front: Front, scripted: ScriptedUpstream
) -> None:
    upstream = await scripted(lambda h, n: [b"HTTP/1.1 200 OK\r\n\r\nuntil ", b"the end", CLOSE])
    port = await front(route(upstream.port))
    async with aiohttp.ClientSession() as client:
        for _ in range(2):
            async with client.get(f"http://127.0.0.1:{port}/", headers={"Host": CUSTOM}) as r:
                assert r.headers["Transfer-Encoding"] == "chunked"
                assert await r.read() == b"until the end"
    assert upstream.connections == 2  # such a connection is never reused


@pytest.mark.parametrize("status", [b"204 No Content", b"304 Not Modified"])
async def test_answers_without_a_body(
    front: Front, scripted: ScriptedUpstream, status: bytes
) -> None:
    upstream = await scripted(lambda h, n: [b'HTTP/1.1 %s\r\nETag: "v1"\r\n\r\n' % status])
    port = await front(route(upstream.port))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request("/a") + request("/b"))
    for _ in range(2):
        code, fields, body = await read_answer(reader)
        assert (code, fields["etag"], body) == (int(status[:3]), '"v1"', b"")
        assert "transfer-encoding" not in fields
    writer.close()
    assert [head.split(b" ")[1] for head, _ in upstream.received] == [b"/a", b"/b"]


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nEXTRA",
    ],
)
async def test_bytes_past_an_answers_end_are_dropped_with_the_connection(
    front: Front, scripted: ScriptedUpstream, answer: bytes
) -> None:
    upstream = await scripted(lambda h, n: [answer])
    port = await front(route(upstream.port))
    async with aiohttp.ClientSession() as client:
        for _ in range(2):
            async with client.get(f"http://127.0.0.1:{port}/", headers={"Host": CUSTOM}) as r:
                assert await r.read() == b"ok"
    assert upstream.connections == 2


async def test_an_upstream_closing_mid_answer_closes_the_client_and_is_counted(
    front: Front, scripted: ScriptedUpstream
) -> None:
    cut = [b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", b"only ten b", CLOSE]
    upstream = await scripted(lambda h, n: cut)
    port = await front(route(upstream.port))
    before = sample("trackway_proxy_upstream_errors_total", host=CUSTOM, reason="broken")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request("/cut"))
    got = b""
    try:  # until the connection ends (a TimeoutError here: a hang)
        while chunk := await asyncio.wait_for(reader.read(65536), 5):
            got += chunk
    except ConnectionError:
        pass
    assert got.startswith(b"HTTP/1.1 200 OK\r\n")
    assert got.endswith(b"\r\n\r\nonly ten b")  # cut where the upstream cut it
    writer.close()
    after = sample("trackway_proxy_upstream_errors_total", host=CUSTOM, reason="broken")
    assert after == before + 1


async def test_a_pooled_connection_the_upstream_dropped_is_replaced(
    front: Front, scripted: ScriptedUpstream
) -> None:
    # The second request on a connection finds it closing (the upstream's idle timeout,
    # say): nothing was answered, so it goes again on a new connection.
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    upstream = await scripted(lambda h, nth: [ok] if nth == 0 else [CLOSE])
    port = await front(route(upstream.port))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for path in ("/1", "/2"):
        writer.write(request(path))
        status, _, body = await read_answer(reader)
        assert (status, body) == (200, b"ok")
    writer.close()
    assert [head.split(b" ")[1] for head, _ in upstream.received] == [b"/1", b"/2", b"/2"]
    assert upstream.connections == 2


async def test_a_client_that_does_not_read_holds_the_upstream_not_memory(
    upstream_and_front: tuple[Upstream, int], peak_rss: Callable[[], float]
) -> None:
    _, port = upstream_and_front
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=MIB)
    writer.write(request("/big?mib=100"))
    await asyncio.sleep(1.5)  # the upstream could send it all by now; nobody reads
    assert peak_rss() < 30, f"peak RSS grew by {peak_rss():.1f} MiB"
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert b"Content-Length: %d" % (100 * MIB) in head
    received = 0
    while received < 100 * MIB:
        received += len(await asyncio.wait_for(reader.read(MIB), 5))
    assert received == 100 * MIB
    assert peak_rss() < 40
    writer.close()


async def test_over_tls_the_upstream_hears_https(
    settings: Settings, ca: trustme.CA, http_upstream: Upstream
) -> None:
    service = PublicService(settings, routes=lambda: route(http_upstream.port))
    await service.start()
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(CUSTOM).configure_cert(server_side)
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    listener = await service.listen(sock, server_side)
    try:
        client_side = ssl.create_default_context()
        ca.configure_trust(client_side)
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_side, server_hostname=CUSTOM
        )
        writer.write(request("/secure") + request("/again"))
        for _ in range(2):
            assert (await read_answer(reader))[0] == 200
        writer.close()
    finally:
        listener.close()
        await service.close()
    assert [g.header("X-Forwarded-Proto") for g in http_upstream.received] == [["https"]] * 2


async def test_the_read_timeout_holds_on_a_reused_connection(
    front: Front, http_upstream: Upstream
) -> None:
    http_upstream.slow_seconds = 2.0
    port = await front(route(http_upstream.port), read_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    writer.write(request("/fast"))
    assert (await read_answer(reader))[0] == 200
    await asyncio.sleep(0.3)  # the first exchange's timer is still armed
    started = loop.time()
    writer.write(request("/slow"))
    status, fields, _ = await read_answer(reader)
    assert (status, fields["cache-control"]) == (504, "no-store")
    assert 0.4 < loop.time() - started < 1.9  # the timeout from this request on
    writer.close()
    assert len({g.header("X-Peer-Port")[0] for g in http_upstream.received}) == 1
