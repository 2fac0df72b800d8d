"""Fixtures every test folder may use: a key ring and rewriter, settings in a temporary
data folder, tokens, and clients of a real public listener."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from config import ClickSettings, Settings, StoreSettings
from proxy.serve.listeners import bind_socket
from proxy.serve.public_app import PublicService
from redirector import Claims, KeyRing, LinkSigner, Rewriter, SendContext, load_keyring
from redirector.links.keyring import SigningKey
from redirector.links.tokens import sign
from redirector.recording.event_store import EventStore
from tests.support.clicks import LONG_AGO, ListenerClient, TokenMaker
from tests.support.postgres import postgres_cluster, postgres_url

__all__ = ["postgres_cluster", "postgres_url"]  # fixtures of every folder


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing([SigningKey("0a0b0c0d", bytes(range(32)), 1_700_000_000)])


@pytest.fixture
def rewriter(ring: KeyRing) -> Rewriter:
    return Rewriter(LinkSigner(ring, "https://t.example.net"))


@pytest.fixture
def ctx() -> SendContext:
    return SendContext("01JDQ8Z6W3V9R2K4M5N6P7Q8RS", "rcpt-42", 1_790_000_000)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data=tmp_path / "data",
        clicks=ClickSettings(too_fast_seconds=10, burst_links=3, burst_seconds=10),
        store=StoreSettings(spool_retry_seconds=0.2, busy_timeout_ms=50),
    )


@pytest.fixture
def make_token(settings: Settings) -> TokenMaker:
    def make(
        url: str = "https://example.com/landing?a=1",
        message_id: str = "msg-1",
        recipient_id: str = "rcpt-1",
        link_index: int = 0,
        sent_at: int = LONG_AGO,
    ) -> str:
        ring = load_keyring(settings.data, int(time.time()))
        return sign(Claims(url, message_id, recipient_id, link_index, sent_at), ring.signing_key)

    return make


@pytest.fixture
def signer(settings: Settings) -> LinkSigner:
    return LinkSigner(load_keyring(settings.data, int(time.time())), "http://127.0.0.1")


@pytest.fixture
async def public_client() -> AsyncIterator[Callable[..., Awaitable[ListenerClient]]]:
    """`await public_client(settings[, store_factory])`: a client of a real listener."""
    started: list[tuple[PublicService, asyncio.Server, ListenerClient]] = []

    async def make(
        settings: Settings, store_factory: Callable[[], EventStore] | None = None
    ) -> ListenerClient:
        service = PublicService(settings, store_factory=store_factory)
        await service.start()
        listener = await service.listen(bind_socket("127.0.0.1", 0))
        port = listener.sockets[0].getsockname()[1]
        client = ListenerClient(f"http://127.0.0.1:{port}")
        started.append((service, listener, client))
        return client

    yield make
    for service, listener, client in started:
        await client.session.close()
        listener.close()
        await service.close()
