"""A front (the public listener, in process) and platform upstreams on loopback."""

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
