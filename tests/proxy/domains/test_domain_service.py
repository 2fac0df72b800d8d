"""The domain service on loopback: ownership, regions, reverting, removing, bad input."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from certs.store import CertStore
from proxy.domains.domain_settings import DomainSettings
from proxy.domains.errors import DomainError
from proxy.domains.service import TXT_PREFIX, DomainService, open_domain_service
from proxy.domains.store import PROXY, SendingDomain, SqliteDomainStore
from tests.support.challtestsrv import free_port
from tests.support.domain_world import DEFAULT_BASE, EU, US, add_and_verify


async def test_unverified_sending_domain_uses_the_default_host(world_factory: Any) -> None:
    world = await world_factory()
    world.dns.set_cname("links.example.com", US)
    with world.service() as service:
        service.add("example.com", "links.example.com")
        world.dns.set_txt("_trackway.example.com", f"{TXT_PREFIX}someone-else")
        await service.verify("example.com")
        doc = service.describe("example.com").as_dict()
    assert doc["ownership"] == "unverified"
    assert "not this domain's token" in doc["ownership_error"]
    assert doc["link_base"] == DEFAULT_BASE


async def test_revert_when_the_cname_moves_away_or_the_host_is_removed(world_factory: Any) -> None:
    world = await world_factory()
    world.dns.set_cname("links.example.com", US)
    assert (await add_and_verify(world))["link_base"] == "http://links.example.com"
    world.dns.set_cname("links.example.com", "gone.nonexistent.example")
    with world.service() as service:
        await service.verify("links.example.com")
        assert service.link_base("example.com").url == DEFAULT_BASE
        world.dns.set_cname("links.example.com", US)
        await service.verify("example.com")
        assert service.link_base("example.com").url == "http://links.example.com"
        service.remove("links.example.com")
        assert service.link_base("example.com").url == DEFAULT_BASE


async def test_region_sets_the_cname_target(world_factory: Any) -> None:
    world = await world_factory()
    world.dns.set_cname("links.example.com", US)
    with world.service() as service:
        service.add("example.com", "links.example.com", region="eu")
        world.prove_ownership()
        (status,) = await service.verify("example.com")
        assert status.cname == "wrong"  # an eu host must point at the eu default
        assert status.link_base == f"https://{EU}"
        world.dns.set_cname("links.example.com", EU)
        (status,) = await service.verify("example.com")
        assert status.cname == "ok"


async def test_bad_input_is_a_clear_error(world_factory: Any) -> None:
    world = await world_factory(http_port=free_port())
    with world.service() as service:
        with pytest.raises(DomainError, match=r"not example\.com or a subdomain"):
            service.add("example.com", "links.other.org")
        with pytest.raises(DomainError, match="not a valid domain"):
            service.add("exa mple.com")
        with pytest.raises(DomainError, match="not a URL"):
            service.add("https://example.com/")
        with pytest.raises(DomainError, match="unknown region"):
            service.add("example.com", "links.example.com", region="mars")
        with pytest.raises(DomainError, match="no domain"):
            await service.verify("nothing.example.org")
    with (
        open_domain_service(dataclasses.replace(world.settings, regions={})) as bare,
        pytest.raises(DomainError, match="no regions"),
    ):
        bare.add("example.com", "links.example.com")


def test_workers_opening_a_new_domain_store_at_once_all_get_it(tmp_path: Path) -> None:
    """Every worker of a first `serve` opens domains.db as it starts: none may fail
    with "database is locked" (SQLite's answer, without waiting, to a second connection
    making the file WAL or its tables meanwhile)."""
    for attempt in range(20):
        data = tmp_path / str(attempt)
        failed: list[str] = []

        def open_and_read(data: Path = data, failed: list[str] = failed) -> None:
            try:
                store = SqliteDomainStore(data)
                store.hosts()
                store.close()
            except sqlite3.Error as e:
                failed.append(str(e))

        threads = [threading.Thread(target=open_and_read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failed == []


class ChangedMeanwhile(SqliteDomainStore):
    """domains.db changed by `meanwhile` (another connection) just before a check
    records its domain's results: a change made while the check waited on the network."""

    def __init__(self, data: Path, meanwhile: Callable[[SqliteDomainStore], None]) -> None:
        super().__init__(data)
        self.folder, self.meanwhile = data, meanwhile

    def record_domain_check(self, domain: SendingDomain) -> bool:
        other = SqliteDomainStore(self.folder)
        try:
            self.meanwhile(other)
        finally:
            other.close()
        return super().record_domain_check(domain)


def removed(store: SqliteDomainStore) -> None:
    store.remove_domain("example.com")


def proxied(store: SqliteDomainStore) -> None:
    host = store.host("links.example.com")
    assert host is not None
    store.put_host(host.in_mode(PROXY, "https://up.example", "custom", DEFAULT_BASE))


@pytest.mark.parametrize("meanwhile", [removed, proxied])
async def test_a_check_does_not_undo_a_change_made_while_it_runs(
    world_factory: Any, meanwhile: Callable[[SqliteDomainStore], None]
) -> None:
    world = await world_factory()
    world.dns.set_cname("links.example.com", US)
    with world.service() as service:
        service.add("example.com", "links.example.com")
    world.prove_ownership()
    store = ChangedMeanwhile(world.settings.data, meanwhile)
    try:
        service = DomainService(
            DomainSettings.from_settings(world.settings), store, CertStore(world.settings.data)
        )
        await service.verify("example.com")
        if meanwhile is removed:
            assert (store.domains(), store.hosts()) == ([], [])
        else:
            (host,) = store.hosts()
            assert (host.mode, host.upstream, host.checked_at) == (
                PROXY,
                "https://up.example",
                None,
            )
    finally:
        store.close()
