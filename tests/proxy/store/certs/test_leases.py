"""Leases, the one interface with two backends (SQLite in the data folder, PostgreSQL
for several servers): one holder at a time, expiry and takeover, fencing tokens; and
PostgreSQL's expiries by the database's clock, whatever the servers' clocks say."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from certs.lease import Leases, SqliteLeases
from proxy.store.certs.database import LazyConnection
from proxy.store.certs.leases import PostgresLeases
from tests.support.postgres import lapse_leases

HOST = "links.example.com"


class World:
    """Views of one store (processes, servers), and the tests' time: `at(t)` is the
    `now` handed in, by which SQLite decides; PostgreSQL decides by its own clock, so
    there time moves on by lapsing the stored expiries as far."""

    def __init__(self, tmp_path: Path, url: str | None) -> None:
        self.tmp_path = tmp_path
        self.url = url
        self.now: float | None = None
        self.made: list[Leases] = []

    def leases(self) -> Leases:
        if self.url is None:
            leases: Leases = SqliteLeases(self.tmp_path)
        else:
            leases = PostgresLeases(LazyConnection(self.url))
        self.made.append(leases)
        return leases

    def at(self, t: float) -> float:
        if self.url is not None and self.now is not None:
            lapse_leases(self.url, t - self.now)
        self.now = t
        return t


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    made = World(tmp_path, url)
    yield made
    for leases in made.made:
        leases.close()


def test_one_holder_at_a_time_until_the_lease_expires(world: World) -> None:
    first, second = world.leases(), world.leases()
    at = world.at
    assert first.acquire(HOST, now=at(100.0), seconds=60) == 1
    assert second.acquire(HOST, now=at(120.0), seconds=60) is None
    assert second.acquire("other.example.com", now=at(120.0), seconds=60) == 1  # per name
    assert first.acquire(HOST, now=at(130.0), seconds=60) == 1  # renewed by its holder
    assert second.acquire(HOST, now=at(191.0), seconds=60) == 2  # expired: taken over
    assert first.acquire(HOST, now=at(192.0), seconds=60) is None
    second.release(HOST, 2)
    assert first.acquire(HOST, now=at(193.0), seconds=60) == 3  # released: the token grows


def test_renewal_keeps_a_lease_and_fails_once_taken_over(world: World) -> None:
    first, second = world.leases(), world.leases()
    at = world.at
    token = first.acquire(HOST, now=at(100.0), seconds=60)
    assert token == 1
    assert first.renew(HOST, token, now=at(150.0), seconds=60)  # now until 210
    assert second.acquire(HOST, now=at(200.0), seconds=60) is None  # renewed: not expired
    # The holder stalls past its expiry; another takes over; the late renewal fails.
    assert second.acquire(HOST, now=at(211.0), seconds=60) == 2
    assert not first.renew(HOST, token, now=at(212.0), seconds=60)
    first.release(HOST, token)  # a stale release frees nothing
    assert world.leases().acquire(HOST, now=at(213.0), seconds=60) is None
    assert not second.renew(HOST, 1, now=at(214.0), seconds=60)  # the token, not the holder


def test_a_dead_holders_lease_expires(world: World) -> None:
    dead = world.leases()
    assert dead.acquire(HOST, now=world.at(100.0), seconds=60) == 1
    dead.close()  # died holding it: nobody releases
    assert world.leases().acquire(HOST, now=world.at(159.0), seconds=60) is None
    assert world.leases().acquire(HOST, now=world.at(161.0), seconds=60) == 2


def test_servers_clocks_do_not_decide_expiry_in_postgresql(postgres_url: str) -> None:
    servers = [PostgresLeases(LazyConnection(postgres_url)) for _ in range(3)]
    on_time, ahead, behind = servers
    hour = 3600.0
    try:
        assert on_time.acquire(HOST, now=time.time(), seconds=60) == 1
        # A server whose clock is an hour ahead sees the lease expired: not so.
        assert ahead.acquire(HOST, now=time.time() + hour, seconds=60) is None
        assert on_time.renew(HOST, 1, now=time.time() - hour, seconds=60)  # still 60 s
        assert ahead.acquire(HOST, now=time.time() + hour, seconds=60) is None
        on_time.release(HOST, 1)
        # One an hour behind takes it for 60 s of the database's clock, not -3540.
        assert behind.acquire(HOST, now=time.time() - hour, seconds=60) == 2
        assert ahead.acquire(HOST, now=time.time() + hour, seconds=60) is None
        lapse_leases(postgres_url, 61)
        assert ahead.acquire(HOST, now=time.time() + hour, seconds=60) == 3
    finally:
        for leases in servers:
            leases.close()
