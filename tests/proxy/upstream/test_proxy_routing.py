"""Who answers what on the public listener once hosts are proxied, and what no request
can make trackway do: connect anywhere but the configured upstream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from config import Settings
from proxy.serve.public_app import MAX_VERDICTS, PublicService
from proxy.upstream import UpstreamRoute
from tests.proxy.upstream.conftest import CUSTOM, Front, sample
from tests.support.clicks import TokenMaker
from tests.support.upstreams import Upstream

OURS = "t.example.net"  # a tracking host in redirect mode (trackway's own links)


@pytest.fixture
async def elsewhere() -> AsyncIterator[Upstream]:
    """A server no request may reach through trackway."""
    server = await Upstream().start()
    yield server
    await server.stop()


def route_to(upstream: Upstream) -> dict[str, UpstreamRoute]:
    return {CUSTOM: UpstreamRoute(CUSTOM, "http", "127.0.0.1", upstream.port)}


async def exchange(port: int, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """One raw request (the test writes its request line), its status and whole answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    return int(answer.split(b" ", 2)[1]), answer


@pytest.mark.parametrize(
    "head",
    [
        # A Host naming the other server: not one of ours.
        "GET /c/x HTTP/1.1\nHost: 127.0.0.1:{other}\nConnection: close\n",
        # Absolute-form names the other server: its authority is the request's host.
        "GET http://127.0.0.1:{other}/c/x HTTP/1.1\nHost: " + CUSTOM + "\nConnection: close\n",
        "POST http://127.0.0.1:{other}/x HTTP/1.1\nHost: " + CUSTOM + "\nContent-Length: 0\n"
        "Connection: close\n",
    ],
)
async def test_a_host_not_ours_is_misdirected(
    front: Front, http_upstream: Upstream, elsewhere: Upstream, head: str
) -> None:
    port = await front(route_to(http_upstream), own_hosts={OURS})
    status, answer = await exchange(port, head.format(other=elsewhere.port))
    assert status == 421
    assert b"Cache-Control: no-store" in answer
    assert http_upstream.received == elsewhere.received == []


@pytest.mark.parametrize(
    ("head", "target"),
    [
        ("GET {t} HTTP/1.1\nHost: " + CUSTOM + "\nX-Forwarded-Host: 127.0.0.1:{other}\n", "/a"),
        ("GET {t} HTTP/1.1\nHost: " + CUSTOM + "\nX-Forwarded-For: 127.0.0.1:{other}\n", "/a"),
        ("GET {t} HTTP/1.1\nHost: " + CUSTOM + "\n", "//127.0.0.1:{other}/x"),
        ("GET {t} HTTP/1.1\nHost: " + CUSTOM + "\n", "/..//127.0.0.1:{other}/../x"),
        ("GET {t} HTTP/1.1\nHost: " + CUSTOM + "\n", "/@127.0.0.1:{other}/x"),
        # Absolute-form naming the proxied host: its path goes to its upstream.
        ("GET http://" + CUSTOM + "{t} HTTP/1.1\nHost: 127.0.0.1:{other}\n", "/abs?q=1"),
    ],
)
async def test_nothing_in_a_request_reaches_another_server(
    front: Front, http_upstream: Upstream, elsewhere: Upstream, head: str, target: str
) -> None:
    port = await front(route_to(http_upstream), own_hosts={OURS})
    target = target.format(other=elsewhere.port)
    status, _ = await exchange(
        port, head.format(t=target, other=elsewhere.port) + "Connection: close\n"
    )
    assert status == 200
    assert elsewhere.received == []
    [got] = http_upstream.received
    assert got.target == target
    assert got.header("Host") == [CUSTOM]


async def test_a_proxied_hosts_clicks_go_to_the_platform_and_ours_stay_ours(
    front: Front, http_upstream: Upstream, make_token: TokenMaker
) -> None:
    port = await front(route_to(http_upstream), own_hosts={OURS})
    token = make_token("https://example.com/landing")
    # Plain clicks, the fast path's shape: the proxied host's goes to the platform.
    status, _ = await exchange(
        port, f"GET /c/{token} HTTP/1.1\nHost: {CUSTOM}\nConnection: close\n"
    )
    assert status == 200
    assert [g.target for g in http_upstream.received] == [f"/c/{token}"]
    status, answer = await exchange(
        port, f"GET /c/{token} HTTP/1.1\nHost: {OURS}:80\nConnection: close\n"
    )
    assert status == 302
    assert b"Location: https://example.com/landing\r\n" in answer
    # Two requests on one connection: each is routed by its own Host.
    status, answer = await exchange(
        port,
        f"GET /c/{token} HTTP/1.1\nHost: {OURS}\n\n"
        f"GET /o/{token} HTTP/1.1\nHost: {CUSTOM}\nConnection: close\n",
    )
    assert answer.count(b"HTTP/1.1 302 Found") == 1
    assert answer.count(b"from the platform") == 1
    assert [g.target for g in http_upstream.received] == [f"/c/{token}", f"/o/{token}"]


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/acme-challenge/abcdefghijklmnop",
        "/.well-known/trackway/check/abc",
    ],
)
async def test_trackways_own_paths_are_never_forwarded(
    front: Front, http_upstream: Upstream, path: str
) -> None:
    port = await front(route_to(http_upstream), own_hosts={OURS}, redirect_http=True)
    status, _ = await exchange(port, f"GET {path} HTTP/1.1\nHost: {CUSTOM}\nConnection: close\n")
    assert status == 404  # trackway's answer: no such challenge or check here
    assert http_upstream.received == []


async def test_plain_http_is_redirected_only_when_asked(
    front: Front, http_upstream: Upstream
) -> None:
    port = await front(route_to(http_upstream), redirect_http=True)
    status, answer = await exchange(
        port, f"GET /c/x?a=%20 HTTP/1.1\nHost: {CUSTOM}:8080\nConnection: close\n"
    )
    assert status == 308
    assert f"Location: https://{CUSTOM}/c/x?a=%20\r\n".encode() in answer
    assert http_upstream.received == []


async def test_by_default_every_host_gets_clicks(front: Front, make_token: TokenMaker) -> None:
    port = await front({})
    token = make_token("https://example.com/landing")
    status, _ = await exchange(
        port, f"GET /c/{token} HTTP/1.1\nHost: any.example\nConnection: close\n"
    )
    assert status == 302


async def test_a_link_we_signed_is_served_whatever_the_host(
    front: Front, http_upstream: Upstream, elsewhere: Upstream, make_token: TokenMaker
) -> None:
    """A valid click reached through an address or a host not configured yet is a real
    click: served, not lost to a 421. A forged one there is misdirected."""
    port = await front(route_to(http_upstream), own_hosts={OURS})
    token = make_token("https://example.com/landing")
    for host in (f"127.0.0.1:{elsewhere.port}", "not-configured.example"):
        for prefix in ("c", "a"):  # a tracked link, an app link
            status, answer = await exchange(
                port, f"GET /{prefix}/{token} HTTP/1.1\nHost: {host}\nConnection: close\n"
            )
            assert status == 302
            assert b"Location: https://example.com/landing\r\n" in answer
        status, _ = await exchange(
            port, f"GET /c/{token[:-2]}xx HTTP/1.1\nHost: {host}\nConnection: close\n"
        )
        assert status == 421
    assert http_upstream.received == elsewhere.received == []


async def test_a_body_over_the_cap_is_a_413_before_and_while_reading(
    front: Front, http_upstream: Upstream
) -> None:
    port = await front(route_to(http_upstream), max_body_bytes=1024)
    url = f"http://127.0.0.1:{port}/form"
    async with aiohttp.ClientSession() as client:
        async with client.post(url, data=b"x" * 1024, headers={"Host": CUSTOM}) as r:
            assert r.status == 200  # at the cap: forwarded
        async with client.post(url, data=b"x" * 1025, headers={"Host": CUSTOM}) as r:
            assert r.status == 413  # said by Content-Length: refused before reading

        async def chunked() -> AsyncIterator[bytes]:
            for _ in range(8):
                yield b"y" * 512

        async with client.post(url, data=chunked(), headers={"Host": CUSTOM}) as r:
            assert r.status == 413  # found while streaming it upstream
            assert r.headers["Cache-Control"] == "no-store"
    assert [len(g.body) for g in http_upstream.received] == [1024]
    assert sample("trackway_proxy_requests_total", host=CUSTOM, status="413") >= 2


async def test_host_verdicts_are_kept_per_map_and_bounded(settings: Settings) -> None:
    """The fast path asks whether each click's Host is served: kept per Host value,
    forgotten when the live map changes, never more than MAX_VERDICTS whatever Host
    values clients invent."""
    routes: dict[str, UpstreamRoute] = {}
    own: frozenset[str] = frozenset({OURS})
    service = PublicService(settings, routes=lambda: routes, own_hosts=lambda: own)
    try:
        assert service._serves_host(OURS)
        for n in range(MAX_VERDICTS + 100):
            assert not service._serves_host(f"h{n}.example")
        assert len(service._verdicts) == MAX_VERDICTS
        routes = {OURS: UpstreamRoute(OURS, "http", "127.0.0.1", 9)}  # now proxied
        assert not service._serves_host(OURS)
        own = frozenset({OURS, "h1.example"})
        assert service._serves_host("h1.example")
    finally:
        await service.close()
