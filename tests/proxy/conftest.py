from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from config import ClickSettings, Settings, StoreSettings
from proxy.public_app import PublicService
from redirector import Claims, LinkSigner, load_keyring
from redirector.event_store import EventStore
from redirector.tokens import sign

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
LONG_AGO = 1_700_000_000  # a send time far enough back not to look like a scanner


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data=tmp_path / "data",
        clicks=ClickSettings(too_fast_seconds=10, burst_links=3, burst_seconds=10),
        store=StoreSettings(spool_retry_seconds=0.2, busy_timeout_ms=50),
    )


TokenMaker = Callable[..., str]


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


def with_clicks(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, clicks=dataclasses.replace(settings.clicks, **changes))


class ListenerClient:
    """A client of a real public listener (the click protocol, aiohttp behind it)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(base_url=base)

    def make_url(self, path: str) -> URL:
        return URL(self.base + path)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.session.get(path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> Any:
        return self.session.head(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.session.post(path, **kwargs)


@pytest.fixture
async def public_client() -> AsyncIterator[Callable[..., Awaitable[ListenerClient]]]:
    """`await public_client(settings[, store_factory])`: a client of a real listener."""
    started: list[tuple[PublicService, asyncio.Server, ListenerClient]] = []

    async def make(
        settings: Settings, store_factory: Callable[[], EventStore] | None = None
    ) -> ListenerClient:
        service = PublicService(settings, store_factory)
        await service.start()
        listener = await service.listen("127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        client = ListenerClient(f"http://127.0.0.1:{port}")
        started.append((service, listener, client))
        return client

    yield make
    for service, listener, client in started:
        await client.session.close()
        listener.close()
        await service.close()
