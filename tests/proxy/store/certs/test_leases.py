"""Leases, the one interface with two backends (SQLite in the data folder, PostgreSQL
for several servers): one holder at a time, expiry and takeover, fencing tokens, and a
certificate write with a stale token refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from certs.lease import Leases, SqliteLeases
from proxy.store.certs.database import LazyConnection
from proxy.store.certs.leases import PostgresLeases

HOST = "links.example.com"
# Two processes' (or servers') views of one store.
MakeLeases = Callable[[], Leases]


@pytest.fixture(params=["sqlite", "postgresql"])
def make_leases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeLeases]:
    made: list[Leases] = []

    def make() -> Leases:
        if request.param == "sqlite":
            leases: Leases = SqliteLeases(tmp_path)
        else:
            leases = PostgresLeases(LazyConnection(request.getfixturevalue("postgres_url_once")))
        made.append(leases)
        return leases

    yield make
    for leases in made:
        leases.close()


@pytest.fixture
def postgres_url_once(postgres_url: str) -> str:
    return postgres_url  # one database for the test's every view


def test_one_holder_at_a_time_until_the_lease_expires(make_leases: MakeLeases) -> None:
    first, second = make_leases(), make_leases()
    assert first.acquire(HOST, now=100.0, seconds=60) == 1
    assert second.acquire(HOST, now=120.0, seconds=60) is None
    assert second.acquire("other.example.com", now=120.0, seconds=60) == 1  # per name
    assert first.acquire(HOST, now=130.0, seconds=60) == 1  # renewed by its holder: same token
    assert second.acquire(HOST, now=191.0, seconds=60) == 2  # expired: taken over, next token
    assert first.acquire(HOST, now=192.0, seconds=60) is None
    second.release(HOST, 2)
    assert first.acquire(HOST, now=193.0, seconds=60) == 3  # released: the token still grows


def test_renewal_keeps_a_lease_and_fails_once_taken_over(make_leases: MakeLeases) -> None:
    first, second = make_leases(), make_leases()
    token = first.acquire(HOST, now=100.0, seconds=60)
    assert token == 1
    assert first.renew(HOST, token, now=150.0, seconds=60)  # now until 210
    assert second.acquire(HOST, now=200.0, seconds=60) is None  # renewed: not expired
    # The holder stalls past its expiry; another takes over; the late renewal fails.
    assert second.acquire(HOST, now=211.0, seconds=60) == 2
    assert not first.renew(HOST, token, now=212.0, seconds=60)
    first.release(HOST, token)  # a stale release frees nothing
    assert make_leases().acquire(HOST, now=213.0, seconds=60) is None
    assert not second.renew(HOST, 1, now=214.0, seconds=60)  # the token, not only the holder


def test_a_dead_holders_lease_expires(make_leases: MakeLeases) -> None:
    dead = make_leases()
    assert dead.acquire(HOST, now=100.0, seconds=60) == 1
    dead.close()  # died holding it: nobody releases
    assert make_leases().acquire(HOST, now=159.0, seconds=60) is None
    assert make_leases().acquire(HOST, now=161.0, seconds=60) == 2
