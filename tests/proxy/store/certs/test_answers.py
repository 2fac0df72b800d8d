"""A worker's challenge answers with a shared store: what another server published,
and 503 (the CA tries again) while the database is down, never a crash; with a database
that does not answer, lookups (HTTP-01 and TLS-ALPN-01, which anyone may send) end
within a bounded time however many come, and the default executor (the proxy's DNS
lookups) stays free."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

import pytest

from certs.sni import SniCertificates
from certs.store import CertStore
from certs.tls_alpn import ACME_TLS_ALPN
from config import Settings
from proxy.serve.listeners import bind_socket
from proxy.serve.public_app import PublicService
from proxy.store.certs.challenges import PostgresChallenges
from proxy.store.certs.database import LazyConnection
from proxy.store.connection import CONNECT_SECONDS
from tests.support.challtestsrv import free_port
from tests.support.clicks import ListenerClient

TOKEN = "b" * 43
PATH = f"/.well-known/acme-challenge/{TOKEN}"
PublicClient = Callable[[Settings], Awaitable[ListenerClient]]
LOOKUPS = 40


def with_store(settings: Settings, url: str) -> Settings:
    return dataclasses.replace(settings, store=dataclasses.replace(settings.store, url=url))


async def test_a_worker_answers_what_another_server_published(
    settings: Settings, postgres_url: str, public_client: PublicClient
) -> None:
    client = await public_client(with_store(settings, postgres_url))
    async with client.get(PATH) as resp:
        assert resp.status == 404
    db = LazyConnection(postgres_url)  # the ordering server
    try:
        PostgresChallenges(db).publish(TOKEN, f"{TOKEN}.thumbprint")
    finally:
        db.close()
    async with client.get(PATH) as resp:
        assert resp.status == 200
        assert await resp.text() == f"{TOKEN}.thumbprint"


async def test_a_database_that_is_down_answers_503(
    settings: Settings, public_client: PublicClient
) -> None:
    nobody = f"postgresql://trackway@127.0.0.1:{free_port()}/none"
    client = await public_client(with_store(settings, nobody))
    async with client.get(PATH) as resp:
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "5"


class Silent(asyncio.Protocol):
    """Takes what a client sends (the startup packet) and never answers."""

    held: ClassVar[list[asyncio.BaseTransport]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.held.append(transport)


@pytest.fixture
async def silent_url() -> AsyncIterator[str]:
    """A database URL whose server accepts connections and never answers (packets to
    the database dropped)."""
    server = await asyncio.get_running_loop().create_server(Silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"postgresql://trackway@127.0.0.1:{port}/silent"
    server.close()
    for transport in Silent.held:
        transport.close()
    Silent.held.clear()


async def flood(lookups: list[Awaitable[Any]]) -> float:
    """Seconds until every lookup ended, while the default executor is asked to run
    something now and then: it must answer at once meanwhile."""
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    running = asyncio.gather(*lookups, return_exceptions=True)
    for _ in range(5):
        await asyncio.sleep(0.5)
        await asyncio.wait_for(loop.run_in_executor(None, time.monotonic), timeout=1.0)
    await asyncio.wait_for(running, timeout=4 * CONNECT_SECONDS)
    return time.monotonic() - started


async def test_lookups_against_a_silent_database_are_bounded(
    settings: Settings, silent_url: str, public_client: PublicClient
) -> None:
    client = await public_client(with_store(settings, silent_url))
    statuses: list[int] = []

    async def lookup() -> None:
        async with client.get(PATH) as resp:
            statuses.append(resp.status)

    seconds = await flood([lookup() for _ in range(LOOKUPS)])
    assert seconds < 2.5 * CONNECT_SECONDS
    assert statuses == [503] * LOOKUPS


async def test_tls_alpn_lookups_against_a_silent_database_are_bounded(
    settings: Settings, silent_url: str
) -> None:
    service = PublicService(with_store(settings, silent_url), loads_spool=False)
    await service.start()
    context = SniCertificates(CertStore(settings.data)).server_context()
    listener = await service.listen(bind_socket("127.0.0.1", 0), context, service.challenges)
    port = listener.sockets[0].getsockname()[1]
    client = ssl.create_default_context()
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.set_alpn_protocols([ACME_TLS_ALPN])  # a CA validating TLS-ALPN-01, or not
    try:

        async def hello() -> None:
            with contextlib.suppress(ssl.SSLError, OSError):  # no certificate: refused
                _, writer = await asyncio.open_connection(
                    "127.0.0.1", port, ssl=client, server_hostname="links.example.com"
                )
                writer.close()

        seconds = await flood([hello() for _ in range(LOOKUPS)])
        assert seconds < 2.5 * CONNECT_SECONDS
    finally:
        listener.close()
        await service.close()
