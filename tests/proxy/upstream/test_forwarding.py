"""Requests to a proxied host reach its upstream as they came; answers come back as the
upstream gave them. Real upstreams on loopback, HTTP and HTTPS (test CA, test DNS)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from yarl import URL

from proxy.upstream import UpstreamRoute
from tests.proxy.upstream.conftest import CUSTOM, PLATFORM, Front, sample
from tests.support.challtestsrv import free_port
from tests.support.upstreams import GZIPPED, MIB, Upstream


def over_http(upstream: Upstream, host_header: str = "custom") -> dict[str, UpstreamRoute]:
    return {CUSTOM: UpstreamRoute(CUSTOM, "http", "127.0.0.1", upstream.port, host_header)}


async def test_method_path_query_body_and_headers_reach_the_upstream(
    front: Front, http_upstream: Upstream, client: aiohttp.ClientSession
) -> None:
    port = await front(over_http(http_upstream))
    target = "/c/Ab%2Fc/../x//y;p?q=%20%zz&a=1&a=2"
    async with client.post(
        URL(f"http://127.0.0.1:{port}{target}", encoded=True),
        data=b"form=1&x=%41",
        headers={
            "Host": CUSTOM,
            "User-Agent": "Mozilla/5.0 (iPhone)",
            "Cookie": "a=1; b=2",
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Forwarded-For": "6.6.6.6",  # a client's claim, not believed
            "X-Forwarded-Host": "evil.example",
            "Connection": "X-Secret",
            "X-Secret": "hop",
            "Keep-Alive": "timeout=1",
            "TE": "trailers",
            "Proxy-Authorization": "Basic eDp5",
        },
    ) as response:
        assert response.status == 200
        assert await response.read() == b"from the platform"
        # The upstream's hop-by-hop headers stay on its hop; the others come through.
        assert response.headers["X-End-To-End"] == "kept"
        for name in ("X-Hop", "Keep-Alive", "Proxy-Authenticate", "Upgrade"):
            assert name not in response.headers
    [got] = http_upstream.received
    assert (got.method, got.target, got.body) == ("POST", target, b"form=1&x=%41")
    assert got.header("Host") == [CUSTOM]
    assert got.header("User-Agent") == ["Mozilla/5.0 (iPhone)"]
    assert got.header("Cookie") == ["a=1; b=2"]
    assert got.header("Content-Type") == ["application/x-www-form-urlencoded"]
    assert got.header("X-Forwarded-For") == ["127.0.0.1"]
    assert got.header("X-Forwarded-Proto") == ["http"]
    assert got.header("X-Forwarded-Host") == [CUSTOM]
    names = {name.lower() for name, _ in got.headers}
    assert not names & {"x-secret", "keep-alive", "te", "proxy-authorization"}
    assert sample("trackway_proxy_requests_total", host=CUSTOM, status="200") >= 1


async def test_a_connection_header_naming_content_length_smuggles_nothing(
    front: Front, http_upstream: Upstream
) -> None:
    # The fast path leaves it to aiohttp, whose forwarder frames the body itself (the
    # client's Content-Length stays on its hop): the upstream gets one request.
    port = await front(over_http(http_upstream))
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: other.example\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /form HTTP/1.1\r\nHost: %s\r\nConnection: content-length\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (CUSTOM.encode(), len(smuggled), smuggled)
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200 ")
    await asyncio.sleep(0.3)  # time for a second request to arrive, were there one
    writer.close()
    [got] = http_upstream.received
    assert (got.method, got.target, got.body) == ("POST", "/form", smuggled)


@pytest.mark.parametrize(("policy", "host"), [("custom", CUSTOM), ("upstream", PLATFORM)])
async def test_https_upstream_by_its_name_with_either_host_policy(
    front: Front,
    https_upstream: Upstream,
    client: aiohttp.ClientSession,
    policy: str,
    host: str,
) -> None:
    route = UpstreamRoute(CUSTOM, "https", PLATFORM, https_upstream.port, policy)
    port = await front({CUSTOM: route})
    for path in ("/c/AQtoken-made-by-the-platform", "/ls/click?upn=abc"):
        async with client.get(f"http://127.0.0.1:{port}{path}", headers={"Host": CUSTOM}) as r:
            assert r.status == 200, await r.text()
    expected_host = host if policy == "custom" else f"{PLATFORM}:{https_upstream.port}"
    assert [(g.target, g.header("Host"), g.sni) for g in https_upstream.received] == [
        ("/c/AQtoken-made-by-the-platform", [expected_host], PLATFORM),
        ("/ls/click?upn=abc", [expected_host], PLATFORM),
    ]


async def test_an_upstream_certificate_for_another_name_is_refused(
    front: Front, https_upstream: Upstream, client: aiohttp.ClientSession
) -> None:
    # The upstream's certificate names platform.test; "other.test" resolves to it too.
    route = UpstreamRoute(CUSTOM, "https", "other.test", https_upstream.port)
    port = await front({CUSTOM: route})
    async with client.get(f"http://127.0.0.1:{port}/x", headers={"Host": CUSTOM}) as r:
        assert r.status == 502
        assert r.headers["Cache-Control"] == "no-store"
    assert https_upstream.received == []
    assert sample("trackway_proxy_upstream_errors_total", host=CUSTOM, reason="tls") >= 1


async def test_a_redirect_is_passed_on_unchanged_never_followed(
    front: Front, http_upstream: Upstream, client: aiohttp.ClientSession
) -> None:
    port = await front(over_http(http_upstream))
    async with client.get(
        f"http://127.0.0.1:{port}/redirect", headers={"Host": CUSTOM}, allow_redirects=False
    ) as r:
        assert r.status == 302
        assert r.headers["Location"] == "https://dest.example/a?b=1"
        assert r.headers.getall("Set-Cookie") == ["sid=1; Secure; HttpOnly", "seen=yes"]
        assert r.headers["Cache-Control"] == "private, max-age=0"
        # RFC 9209: what says the answer came from the upstream through us.
        assert r.headers.getall("Proxy-Status") == ["trackway; received-status=302"]
    assert [g.target for g in http_upstream.received] == ["/redirect"]


async def test_a_compressed_answer_is_not_decompressed(
    front: Front, http_upstream: Upstream, client: aiohttp.ClientSession
) -> None:
    port = await front(over_http(http_upstream))
    async with client.get(f"http://127.0.0.1:{port}/gzip", headers={"Host": CUSTOM}) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        assert await r.read() == GZIPPED


def _peak_rss_reset() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # "5": reset the peak RSS (VmHWM)
        f.write("5")


def _kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(field)


async def test_a_100_mib_answer_streams_through_with_bounded_memory(
    front: Front, http_upstream: Upstream, client: aiohttp.ClientSession
) -> None:
    port = await front(over_http(http_upstream))
    _peak_rss_reset()
    before = _kib("VmRSS")
    received = 0
    async with client.get(f"http://127.0.0.1:{port}/big?mib=100", headers={"Host": CUSTOM}) as r:
        assert r.status == 200
        assert r.headers["Content-Length"] == str(100 * MIB)
        async for chunk in r.content.iter_chunked(MIB):
            received += len(chunk)
    growth_mib = (_kib("VmHWM") - before) / 1024
    assert received == 100 * MIB
    # Upstream, front and client all live in this process: each holds a few chunks.
    assert growth_mib < 40, f"peak RSS grew by {growth_mib:.1f} MiB"


async def test_a_slow_upstream_is_a_504(
    front: Front, http_upstream: Upstream, client: aiohttp.ClientSession
) -> None:
    http_upstream.slow_seconds = 2.0
    port = await front(over_http(http_upstream), read_timeout=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with client.get(f"http://127.0.0.1:{port}/slow", headers={"Host": CUSTOM}) as r:
        assert r.status == 504
        assert r.headers["Cache-Control"] == "no-store"
        assert "Gateway timeout" in await r.text()
        assert r.headers["Proxy-Status"] == "trackway; error=connection_read_timeout"
    assert loop.time() - started < 1.9  # answered at the read timeout, not the upstream's pace
    assert sample("trackway_proxy_upstream_errors_total", host=CUSTOM, reason="read_timeout") >= 1
    assert sample("trackway_proxy_requests_total", host=CUSTOM, status="504") >= 1


async def test_a_dead_upstream_is_a_502(front: Front, client: aiohttp.ClientSession) -> None:
    route = UpstreamRoute(CUSTOM, "http", "127.0.0.1", free_port())
    port = await front({CUSTOM: route})
    async with client.get(f"http://127.0.0.1:{port}/c/x", headers={"Host": CUSTOM}) as r:
        assert r.status == 502
        assert r.headers["Cache-Control"] == "no-store"
        assert "Bad gateway" in await r.text()
        assert r.headers["Proxy-Status"] == "trackway; error=connection_refused"
    assert sample("trackway_proxy_upstream_errors_total", host=CUSTOM, reason="refused") >= 1


async def test_connections_to_the_upstream_are_kept_alive(
    front: Front, http_upstream: Upstream, client: aiohttp.ClientSession
) -> None:
    port = await front(over_http(http_upstream))
    for _ in range(5):
        async with client.get(f"http://127.0.0.1:{port}/", headers={"Host": CUSTOM}) as r:
            await r.read()
    assert len({g.header("X-Peer-Port")[0] for g in http_upstream.received}) == 1


async def test_an_upstream_that_never_completes_the_connection_is_a_504(
    front: Front, client: aiohttp.ClientSession
) -> None:
    """It accepts TCP but never answers the TLS handshake: the connect timeout (TLS
    included) ends it, long before the read timeout would."""
    held: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(_: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        held.append(w)

    silent = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    route = UpstreamRoute(CUSTOM, "https", "127.0.0.1", silent.sockets[0].getsockname()[1])
    port = await front({CUSTOM: route}, connect_timeout=0.3, read_timeout=20)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with client.get(f"http://127.0.0.1:{port}/x", headers={"Host": CUSTOM}) as r:
            assert r.status == 504
            assert "Gateway timeout" in await r.text()
            assert r.headers["Proxy-Status"] == "trackway; error=connection_timeout"
        assert loop.time() - started < 5
        assert held  # it was reached, and said nothing
        assert (
            sample("trackway_proxy_upstream_errors_total", host=CUSTOM, reason="connect_timeout")
            >= 1
        )
    finally:
        for w in held:
            w.close()
        silent.close()
        await silent.wait_closed()


async def test_an_upstream_that_dies_mid_answer_ends_the_clients_answer(
    front: Front, client: aiohttp.ClientSession
) -> None:
    """Headers and part of the body went out: the client's answer cannot become a 502
    any more, so its connection is closed (a short body, never a hang), and counted."""

    async def half_an_answer(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100)
        await w.drain()
        w.close()

    dying = await asyncio.start_server(half_an_answer, "127.0.0.1", 0)
    route = UpstreamRoute(CUSTOM, "http", "127.0.0.1", dying.sockets[0].getsockname()[1])
    port = await front({CUSTOM: route})
    broken = sample("trackway_proxy_upstream_errors_total", host=CUSTOM, reason="broken")
    try:
        async with client.get(f"http://127.0.0.1:{port}/x", headers={"Host": CUSTOM}) as r:
            assert r.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await asyncio.wait_for(r.read(), 10)
        now = sample("trackway_proxy_upstream_errors_total", host=CUSTOM, reason="broken")
        assert now == broken + 1
        async with client.get(f"http://127.0.0.1:{port}/healthz") as r:
            assert r.status == 200  # the server goes on
    finally:
        dying.close()
        await dying.wait_closed()
