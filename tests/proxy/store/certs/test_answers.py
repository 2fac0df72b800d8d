"""A worker's HTTP-01 answers with a shared store: what another server published,
and 503 (the CA tries again) while the database is down, never a crash."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from config import Settings
from proxy.store.certs.challenges import PostgresChallenges
from proxy.store.certs.database import LazyConnection
from tests.support.challtestsrv import free_port
from tests.support.clicks import ListenerClient

TOKEN = "b" * 43
PATH = f"/.well-known/acme-challenge/{TOKEN}"
PublicClient = Callable[[Settings], Awaitable[ListenerClient]]


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
