"""The domain store's contract, run against both backends (SQLite's domains.db and
PostgreSQL), and `open_domain_store` choosing by `[store] url`; `copy_domains`."""

from __future__ import annotations

import dataclasses
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from config import Settings, StoreSettings
from proxy.domains.service import check_secret, open_domain_service
from proxy.domains.status import DnsAnswer, HostChecks, Probe, host_status
from proxy.domains.store import (
    PROXY,
    AppLinks,
    DomainStore,
    SendingDomain,
    SqliteDomainStore,
    TrackingHost,
    open_domain_store,
)
from proxy.store.domains import PostgresDomainStore, copy_domains
from proxy.store.domains.copy import Copied
from tests.support.domain_world import DEFAULT_BASE, US

HOST = "links.example.com"
APPLE = '{"applinks": {"details": []}}'
OpenStore = Callable[[], DomainStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def settings_of(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""
    return Settings(data=tmp_path / "data", store=StoreSettings(url=url))


@pytest.fixture
def open_store(settings_of: Settings) -> Iterator[OpenStore]:
    opened: list[DomainStore] = []

    def make() -> DomainStore:
        opened.append(open_domain_store(settings_of))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


def checked(host: str = HOST, created_at: float = 5.0) -> TrackingHost:
    checks = HostChecks(
        host, US, True, DnsAnswer((US,)), Probe(True), (), Probe(False, "no TLS"), 7.5
    )
    return TrackingHost(
        host, "example.com", "us", created_at, checks, host_status(checks, DEFAULT_BASE), 7.5
    )


def test_the_settings_choose_the_backend(settings_of: Settings, open_store: OpenStore) -> None:
    store = open_store()
    wanted = PostgresDomainStore if settings_of.store.url else SqliteDomainStore
    assert isinstance(store, wanted)
    assert (settings_of.data / "domains.db").exists() is (not settings_of.store.url)


def test_domains_round_trip(open_store: OpenStore) -> None:
    store = open_store()
    assert store.domain("example.com") is None
    first = SendingDomain("example.com", "tok-1", False, 1.25)
    second = SendingDomain("a.example", "tok-2", True, 2.5, 3.75, "TXT not found")
    store.put_domain(first)
    store.put_domain(second)
    assert store.domain("example.com") == first
    assert store.domains() == [second, first]  # by name
    verified = dataclasses.replace(first, verified=True, verified_at=9.0)
    store.put_domain(verified)
    assert open_store().domain("example.com") == verified  # seen by another connection


def test_hosts_round_trip_with_checks_status_and_mode(open_store: OpenStore) -> None:
    store = open_store()
    host = checked()
    later = checked("b.example.com", created_at=6.0)
    earlier_other = dataclasses.replace(checked("x.other.org"), sending_domain="other.org")
    for h in (later, host, earlier_other):
        store.put_host(h)
    assert store.host(HOST) == host
    assert store.host("nowhere.example.com") is None
    assert [h.host for h in store.hosts()] == [HOST, "x.other.org", "b.example.com"]
    assert [h.host for h in store.hosts("example.com")] == [HOST, "b.example.com"]
    proxied = host.in_mode(PROXY, "https://track.customer.io", "upstream", DEFAULT_BASE)
    store.put_host(proxied)
    found = open_store().host(HOST)
    assert found == proxied
    assert found is not None
    assert found.route() is not None


def test_app_links_are_written_alone(open_store: OpenStore) -> None:
    store = open_store()
    store.put_host(checked())
    store.put_app_links(HOST, AppLinks(APPLE, None))
    store.put_host(checked())  # a check's write, read before the files changed
    found = open_store().host(HOST)
    assert found is not None
    assert found.app_links == AppLinks(APPLE, None)
    assert [h.app_links for h in store.hosts()] == [AppLinks(APPLE, None)]


def test_a_check_result_is_recorded_on_the_row_it_read(open_store: OpenStore) -> None:
    store = open_store()
    store.put_domain(SendingDomain("example.com", "tok", False, 1.0))
    store.put_host(TrackingHost(HOST, "example.com", "us", 5.0))
    domain, host = store.domain("example.com"), store.host(HOST)
    assert domain is not None
    assert host is not None
    verified = dataclasses.replace(domain, verified=True, verified_at=9.0, last_error=None)
    assert store.record_domain_check(verified)
    assert open_store().domain("example.com") == verified
    result = checked()
    assert store.record_host_check(result)
    assert open_store().host(HOST) == result


def test_a_check_result_recorded_after_a_removal_leaves_it_removed(open_store: OpenStore) -> None:
    store, other = open_store(), open_store()
    store.put_domain(SendingDomain("example.com", "tok", False, 1.0))
    store.put_host(TrackingHost(HOST, "example.com", "us", 5.0))
    domain, host = store.domain("example.com"), store.host(HOST)  # the check reads, waits
    assert domain is not None
    assert host is not None
    other.remove_domain("example.com")  # meanwhile, elsewhere
    assert not store.record_domain_check(dataclasses.replace(domain, verified=True))
    assert not store.record_host_check(checked())
    assert (store.domains(), store.hosts()) == ([], [])


def test_a_check_result_recorded_after_a_mode_change_keeps_the_new_mode(
    open_store: OpenStore,
) -> None:
    store, other = open_store(), open_store()
    store.put_host(TrackingHost(HOST, "example.com", "us", 5.0))
    before = store.host(HOST)
    assert before is not None
    proxied = before.in_mode(PROXY, "https://track.customer.io", "upstream", DEFAULT_BASE)
    other.put_host(proxied)  # `domains proxy`, while the check waits on the network
    store.record_host_check(checked())  # what it found for the host in redirect mode
    found = store.host(HOST)
    assert found is not None
    assert (found.mode, found.upstream, found.host_header) == (
        PROXY,
        "https://track.customer.io",
        "upstream",
    )
    assert found == proxied


def test_a_check_result_recorded_after_remove_and_add_keeps_the_new_token(
    open_store: OpenStore,
) -> None:
    store, other = open_store(), open_store()
    store.put_domain(SendingDomain("example.com", "old-token", False, 1.0))
    store.put_host(TrackingHost(HOST, "example.com", "us", 5.0))
    domain = store.domain("example.com")
    assert domain is not None
    other.remove_domain("example.com")
    added = SendingDomain("example.com", "new-token", False, 2.0)
    other.put_domain(added)
    other.put_host(TrackingHost(HOST, "example.com", "eu", 6.0))
    # The old token's TXT record was found: no proof for the new one.
    assert not store.record_domain_check(
        dataclasses.replace(domain, verified=True, verified_at=9.0)
    )
    assert not store.record_host_check(checked())
    assert store.domain("example.com") == added
    assert store.host(HOST) == TrackingHost(HOST, "example.com", "eu", 6.0)


def test_removing(open_store: OpenStore) -> None:
    store = open_store()
    store.put_domain(SendingDomain("example.com", "t", True, 1.0))
    store.put_host(checked())
    store.put_host(checked("b.example.com"))
    store.remove_host("b.example.com")
    assert [h.host for h in store.hosts()] == [HOST]
    store.remove_domain("example.com")
    assert store.hosts() == []
    assert store.domains() == []


def test_version_moves_with_a_write_made_elsewhere(open_store: OpenStore) -> None:
    watcher, writer = open_store(), open_store()
    seen = watcher.version()
    writes: list[Callable[[], None]] = [
        lambda: writer.put_domain(SendingDomain("example.com", "t", False, 1.0)),
        lambda: writer.put_host(checked()),
        lambda: writer.put_app_links(HOST, AppLinks(None, "[]")),
        lambda: writer.remove_host(HOST),
        lambda: writer.remove_domain("example.com"),
    ]
    for write in writes:
        write()
        now = watcher.version()
        assert now != seen
        seen = now


def test_the_service_runs_on_either(settings_of: Settings) -> None:
    settings = dataclasses.replace(settings_of, regions={"us": US})
    with open_domain_service(settings) as service:
        domain, host = service.add("example.com", HOST)
    assert host is not None
    with open_domain_service(settings) as service:
        (described,) = service.all_domains()
        routes = service.proxy_routes()
    assert described.domain == domain.name
    assert [h.status.host for h in described.hosts] == [HOST]
    assert routes == {}


def test_copy_domains_is_idempotent(tmp_path: Path, postgres_url: str) -> None:
    settings = Settings(data=tmp_path / "data")
    assert copy_domains(settings, postgres_url)["tracking_hosts"] == Copied(0, 0)
    local = SqliteDomainStore(settings.data)
    local.put_domain(SendingDomain("example.com", "t", True, 1.0, 2.0))
    local.put_host(checked())
    local.put_app_links(HOST, AppLinks(APPLE, "[]"))
    local.close()
    assert copy_domains(settings, postgres_url) == {
        "sending_domains": Copied(1, 1),
        "tracking_hosts": Copied(1, 1),
    }
    assert copy_domains(settings, postgres_url) == {
        "sending_domains": Copied(1, 0),
        "tracking_hosts": Copied(1, 0),
    }
    shared = PostgresDomainStore(postgres_url)
    try:
        assert shared.host(HOST) == dataclasses.replace(checked(), app_links=AppLinks(APPLE, "[]"))
        assert [d.name for d in shared.domains()] == ["example.com"]
    finally:
        shared.close()


def test_servers_share_the_check_secret(tmp_path: Path, postgres_url: str) -> None:
    one, two = (Settings(data=tmp_path / n, store=StoreSettings(url=postgres_url)) for n in "ab")
    first = check_secret(one.data)
    assert check_secret(two.data) != first
    for settings in (one, two):
        open_domain_store(settings).close()
    assert check_secret(two.data) == first
    assert stat.S_IMODE((two.data / "check-secret").stat().st_mode) == 0o600
