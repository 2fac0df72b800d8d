"""A front (the public listener, in process), platform upstreams on loopback (an aiohttp
one, and a scripted one that answers bytes as given), and a raw client's helpers."""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme

from config import DnsSettings, ProxySettings, Settings
from proxy.serve.listeners import bind_socket
from proxy.serve.public_app import PublicService, every_host
from proxy.upstream import UpstreamRoute
from proxy.upstream.forwarder import Forwarder
from redirector import metrics
from tests.support.challtestsrv import ChallTestSrv
from tests.support.challtestsrv import dns as dns
from tests.support.upstreams import Upstream

CUSTOM = "links.example.com"  # the sender's tracking host, proxied
PLATFORM = "platform.test"  # the platform's tracking host, resolved by the test DNS

Front = Callable[..., Awaitable[int]]


@pytest.fixture(scope="package")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def http_upstream() -> AsyncIterator[Upstream]:
    upstream = await Upstream().start()
    yield upstream
    await upstream.stop()


@pytest.fixture
async def https_upstream(ca: trustme.CA, dns: ChallTestSrv) -> AsyncIterator[Upstream]:
    dns.set_a(PLATFORM, "127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(PLATFORM).configure_cert(context)
    upstream = await Upstream(tls=context).start()
    yield upstream
    await upstream.stop()


@pytest.fixture
async def front(
    settings: Settings, ca: trustme.CA, dns: ChallTestSrv, tmp_path: Path
) -> AsyncIterator[Front]:
    """`await front(routes, own_hosts=None, **proxy_settings)`: the port of a running
    public listener whose proxied hosts are `routes` (resolving through the test DNS,
    trusting the test CA)."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    started: list[tuple[PublicService, asyncio.Server]] = []

    async def make(
        routes: dict[str, UpstreamRoute], own_hosts: set[str] | None = None, **proxy: Any
    ) -> int:
        configured = dataclasses.replace(
            settings,
            proxy=ProxySettings(**{"ca_bundle": str(bundle), **proxy}),
            dns=DnsSettings(nameservers=(dns.nameserver,)),
        )
        service = PublicService(
            configured,
            routes=lambda: routes,
            own_hosts=every_host if own_hosts is None else (lambda: own_hosts),
        )
        await service.start()
        listener = await service.listen(bind_socket("127.0.0.1", 0))
        started.append((service, listener))
        return int(listener.sockets[0].getsockname()[1])

    yield make
    for service, listener in started:
        listener.close()
        await service.close()


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    """A client that follows nothing and decompresses nothing: it sees what came."""
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session


def sample(name: str, **labels: str) -> float:
    value = metrics.instruments().registry.get_sample_value(name, labels)
    return value or 0.0


CLOSE = b""  # in a script: the upstream closes the connection there


@pytest.fixture
def fast_path_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiohttp's forwarder fails if asked: every request of the test is the fast path's."""

    async def not_here(*args: object) -> None:
        raise AssertionError("forwarded by aiohttp, not by the fast path")

    monkeypatch.setattr(Forwarder, "forward", not_here)


class Scripted:
    """An upstream that answers each request with the bytes its script gives, recording
    each request's head and body, how many connections it got and how many ended."""

    def __init__(self, script: Callable[[bytes, int], list[bytes]]) -> None:
        self.script = script
        self.received: list[tuple[bytes, bytes]] = []
        self.connections = 0
        self.ended = 0  # connections closed (by either side)
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> Scripted:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        nth = 0  # requests before this one on the connection
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                self.received.append((head, await reader.readexactly(length)))
                for part in self.script(head, nth):
                    if part == CLOSE:
                        writer.close()
                        return
                    writer.write(part)
                    await writer.drain()
                nth += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.ended += 1
            writer.close()


ScriptedUpstream = Callable[[Callable[[bytes, int], list[bytes]]], Awaitable[Scripted]]


@pytest.fixture
async def scripted() -> AsyncIterator[ScriptedUpstream]:
    """`await scripted(script)`: a running Scripted upstream."""
    started: list[Scripted] = []

    async def make(script: Callable[[bytes, int], list[bytes]]) -> Scripted:
        server = Scripted(script)
        started.append(server)
        return await server.start()

    yield make
    for server in started:
        await server.stop()


def route(port: int) -> dict[str, UpstreamRoute]:
    return {CUSTOM: UpstreamRoute(CUSTOM, "http", "127.0.0.1", port)}


def request(target: str, *fields: str, method: str = "GET", body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {CUSTOM}", *fields]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_answer(
    reader: asyncio.StreamReader, *, to_head: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """One answer framed by Content-Length (or none): status, fields, body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
    fields = {n.strip().lower(): v.strip() for n, _, v in (x.partition(":") for x in lines)}
    length = 0 if to_head else int(fields.get("content-length", "0"))
    body = await asyncio.wait_for(reader.readexactly(length), 5)
    return int(status_line.split()[1]), fields, body


@pytest.fixture
def peak_rss() -> Callable[[], float]:
    """MiB the peak RSS grew by since the fixture began."""

    def kib(field: str) -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = kib("VmRSS")
    return lambda: (kib("VmHWM") - before) / 1024
