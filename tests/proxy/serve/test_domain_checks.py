"""The periodic domain checks: one server of a cluster checks a round (the servers share
the statuses), another takes over once the holder's lease lapses; alone, a server checks
every round."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from config import CheckSettings, DnsSettings, Settings, StoreSettings
from proxy.domains.service import TXT_PREFIX, open_domain_service
from proxy.serve import domain_checks
from proxy.serve.domain_checks import check_round
from proxy.store.certs import open_leases
from tests.support.challtestsrv import ChallTestSrv
from tests.support.challtestsrv import dns as dns


def server(data: Path, dns: ChallTestSrv, url: str = "", interval: float = 3600.0) -> Settings:
    return Settings(
        data=data,
        store=StoreSettings(url=url),
        dns=DnsSettings(nameservers=(dns.nameserver,), timeout=1.0),
        checks=CheckSettings(interval=interval),
    )


def ownership(settings: Settings) -> tuple[bool, str | None]:
    with open_domain_service(settings) as service:
        (domain,) = service.store.domains()
        return domain.verified, domain.last_error


async def test_one_server_of_a_cluster_checks_a_round(
    tmp_path: Path, postgres_url: str, dns: ChallTestSrv
) -> None:
    one, two = (server(tmp_path / name, dns, postgres_url, interval=1.0) for name in "ab")
    with open_domain_service(one) as service:
        domain, _ = service.add("rounds.example")
    dns.clear_txt("_trackway.rounds.example")
    leases = [open_leases(one), open_leases(two)]
    try:
        assert await check_round(one, leases[0])
        assert not await check_round(two, leases[1])  # the first's round
        assert ownership(two) == (False, "no TXT record at _trackway.rounds.example")
        assert await check_round(one, leases[0])  # its own lease: its round again
        dns.set_txt("_trackway.rounds.example", f"{TXT_PREFIX}{domain.token}")
        await asyncio.sleep(1.2)  # lapsed: whoever comes first takes the round
        assert await check_round(two, leases[1])
        assert not await check_round(one, leases[0])
        assert ownership(one) == (True, None)
    finally:
        for lease in leases:
            lease.close()
        dns.clear_txt("_trackway.rounds.example")


async def test_alone_a_server_checks_every_round(tmp_path: Path, dns: ChallTestSrv) -> None:
    alone = server(tmp_path, dns)
    leases = open_leases(alone)
    try:
        assert [await check_round(alone, leases) for _ in range(3)] == [True] * 3
    finally:
        leases.close()


async def test_a_round_that_waits_on_its_store_holds_up_no_caller(
    tmp_path: Path, dns: ChallTestSrv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its store calls are synchronous: a database that does not answer holds up the
    round's own thread, not the supervisor's loop."""

    async def stuck(settings: Settings) -> None:
        time.sleep(1.0)  # a store call waiting on a database that does not answer

    monkeypatch.setattr(domain_checks, "_check_all", stuck)
    alone = server(tmp_path, dns)
    leases = open_leases(alone)
    try:
        round_ = asyncio.create_task(check_round(alone, leases))
        started = time.monotonic()
        await asyncio.sleep(0.1)
        assert time.monotonic() - started < 0.5
        assert await round_
    finally:
        leases.close()


async def test_a_round_stops_with_its_caller(
    tmp_path: Path, dns: ChallTestSrv, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped = threading.Event()

    async def long(settings: Settings) -> None:
        try:
            await asyncio.sleep(60)
        finally:
            stopped.set()

    monkeypatch.setattr(domain_checks, "_check_all", long)
    alone = server(tmp_path, dns)
    leases = open_leases(alone)
    try:
        round_ = asyncio.create_task(check_round(alone, leases))
        await asyncio.sleep(0.3)
        round_.cancel()
        with pytest.raises(asyncio.CancelledError):
            await round_
        assert await asyncio.to_thread(stopped.wait, 5)  # SIGTERM: the round ends too
    finally:
        leases.close()
