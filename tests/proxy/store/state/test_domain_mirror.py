"""domains.db as the mirror of PostgreSQL's domains (`mirror_domains`): a data folder
that held domains of its own before `[store] url` keeps them aside
(`domains.db.local-<time>`, one warning line) before the first mirror replaces them; a
mirror that only follows the database (a domain removed on another server) keeps
nothing aside. The mirroring task shares the check secret once the database is
reachable, and adopts the database's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from config import Settings, StoreSettings
from proxy.domains.service import CHECK_SECRET_FILE, check_secret
from proxy.domains.store import AppLinks, SendingDomain, SqliteDomainStore, TrackingHost
from proxy.store.domains import PostgresDomainStore, copy_domains
from proxy.store.domains.mirror import must_keep_aside
from proxy.store.domains.store import migrated
from proxy.store.sync import keep_mirrors_in_step, pull_mirrors

NOW = 1_800_000_000
HOST = "links.example.com"
APPLE = '{"applinks": {"details": []}}'


def server(tmp_path: Path, name: str, url: str) -> Settings:
    return Settings(data=tmp_path / name, store=StoreSettings(url=url))


def own_domains(data: Path) -> None:
    """What a single server on SQLite holds: a domain, a host in proxy mode, app links."""
    local = SqliteDomainStore(data)
    try:
        local.put_domain(SendingDomain("example.com", "own-token", True, 1.0, 2.0))
        local.put_host(
            TrackingHost(
                HOST, "example.com", "us", 1.0, mode="proxy", upstream="https://up.example"
            )
        )
        local.put_app_links(HOST, AppLinks(APPLE, None))
    finally:
        local.close()


def names(data: Path) -> tuple[list[str], list[str]]:
    local = SqliteDomainStore(data)
    try:
        return [d.name for d in local.domains()], [h.host for h in local.hosts()]
    finally:
        local.close()


def kept_files(data: Path) -> list[Path]:
    return sorted(data.glob("domains.db.local-*"))


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_must_keep_aside() -> None:
    assert not must_keep_aside(False, set(), set())  # nothing of its own
    assert must_keep_aside(False, {"a.example"}, set())
    assert not must_keep_aside(False, {"a.example"}, {"a.example", "b.example"})  # copied
    assert not must_keep_aside(True, {"a.example"}, set())  # a mirror following a removal


def test_a_folder_with_its_own_domains_keeps_them_aside(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    shared = PostgresDomainStore(postgres_url)
    try:
        shared.put_domain(SendingDomain("shared.example", "t", False, 3.0))
    finally:
        shared.close()
    settings = server(tmp_path, "one", postgres_url)
    own_domains(settings.data)
    with caplog.at_level(logging.INFO, "trackway"):
        pull_mirrors(settings, NOW)
    assert names(settings.data) == (["shared.example"], [])  # the database's now
    (kept,) = kept_files(settings.data)
    assert kept.name.startswith("domains.db.local-20")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # Nothing lost: token, mode, app links.
    with contextlib.closing(sqlite3.connect(kept)) as conn:
        assert conn.execute("SELECT name, token FROM sending_domains").fetchall() == [
            ("example.com", "own-token")
        ]
        assert conn.execute(
            "SELECT host, mode, upstream, apple_app_site_association FROM tracking_hosts"
        ).fetchall() == [(HOST, "proxy", "https://up.example", APPLE)]
    (line,) = [w for w in warnings(caplog) if "domains.db" in w]
    assert str(kept) in line
    assert "trackway store copy --to URL" in line
    assert postgres_url not in caplog.text
    # A mirror now: the next pulls keep nothing more aside.
    pull_mirrors(settings, NOW + 1)
    assert len(kept_files(settings.data)) == 1


def test_a_mirror_following_a_removal_keeps_nothing_aside(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    shared = PostgresDomainStore(postgres_url)
    settings = server(tmp_path, "one", postgres_url)
    try:
        shared.put_domain(SendingDomain("example.com", "t", True, 1.0))
        shared.put_host(TrackingHost(HOST, "example.com", "us", 1.0))
        pull_mirrors(settings, NOW)
        assert names(settings.data) == (["example.com"], [HOST])
        shared.remove_domain("example.com")  # on another server
        with caplog.at_level(logging.INFO, "trackway"):
            pull_mirrors(settings, NOW + 1)
    finally:
        shared.close()
    assert names(settings.data) == ([], [])
    assert kept_files(settings.data) == []
    assert warnings(caplog) == []


def test_a_folder_copied_to_the_database_keeps_nothing_aside(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = server(tmp_path, "one", postgres_url)
    own_domains(settings.data)
    copy_domains(settings, postgres_url)  # `trackway store copy`
    with caplog.at_level(logging.INFO, "trackway"):
        pull_mirrors(settings, NOW)
    assert names(settings.data) == (["example.com"], [HOST])
    assert kept_files(settings.data) == []
    assert warnings(caplog) == []


def test_a_mirror_written_on_its_own_is_no_longer_a_mirror(
    tmp_path: Path, postgres_url: str
) -> None:
    """Run without `[store] url` for a while (domains.db the store again), then pointed
    at the database once more: what was added meanwhile is kept aside."""
    settings = server(tmp_path, "one", postgres_url)
    pull_mirrors(settings, NOW)  # a mirror of the (empty) database
    own_domains(settings.data)  # then a server on SQLite alone
    pull_mirrors(settings, NOW + 1)
    assert names(settings.data) == ([], [])
    (kept,) = kept_files(settings.data)
    with contextlib.closing(sqlite3.connect(kept)) as conn:
        assert conn.execute("SELECT name FROM sending_domains").fetchall() == [("example.com",)]


def shared_secret(url: str) -> bytes | None:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT value FROM shared_secrets WHERE name = 'check'").fetchone()
    return None if row is None else bytes(row[0])


async def until(done: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "not in step in time"
        await asyncio.sleep(0.05)


async def test_the_mirroring_task_shares_and_adopts_the_check_secret(
    tmp_path: Path, postgres_url: str
) -> None:
    """Servers started while the database was down each made a check secret: the
    mirroring task alone (no other store opened with the data folder) puts the first
    one's in the database and makes the other's file the database's, and again after
    the file is replaced."""
    one, two = server(tmp_path, "one", postgres_url), server(tmp_path, "two", postgres_url)
    first, other = check_secret(one.data), check_secret(two.data)
    assert first != other
    migrated(postgres_url)  # the tables, as any server's start makes them
    tasks = [asyncio.create_task(keep_mirrors_in_step(one, poll=0.05))]
    try:
        await until(lambda: shared_secret(postgres_url) == first)
        tasks.append(asyncio.create_task(keep_mirrors_in_step(two, poll=0.05)))
        await until(lambda: check_secret(two.data) == first)
        assert stat.S_IMODE((two.data / CHECK_SECRET_FILE).stat().st_mode) == 0o600
        (two.data / CHECK_SECRET_FILE).write_bytes(bytes(32))  # replaced by hand
        await until(lambda: check_secret(two.data) == first)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert shared_secret(postgres_url) == first
