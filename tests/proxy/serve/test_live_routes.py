"""The live map of proxied hosts a worker reads per request: changes made through another
connection (the CLI's process, the admin API) seen within seconds, the last good map
kept while reading fails."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from config import Settings
from proxy.domains.proxy_routes import LiveRoutes
from proxy.domains.service import DomainService, open_domain_service
from proxy.upstream.route import UpstreamRoute
from tests.support.domain_world import US, store_checked_host

HOST = "links.example.com"
UP = "https://track.customer.io"
DEADLINE = 10.0  # seconds: the map follows within about one poll; generous when loaded
SLOW = 2.0  # seconds a read takes in the test of a slow store


@pytest.fixture
def domains(tmp_path: Path) -> Settings:
    settings = Settings(data=tmp_path / "data", regions={"us": US})
    store_checked_host(settings, HOST)
    return settings


@pytest.fixture
async def watched(domains: Settings) -> AsyncIterator[LiveRoutes]:
    routes = LiveRoutes(domains, poll_seconds=0.1)
    routes.load()
    task = asyncio.create_task(routes.watch())
    yield routes
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def until(routes: LiveRoutes, done: Callable[[dict[str, UpstreamRoute]], bool]) -> float:
    """Seconds until `done(routes.current())`; fails after DEADLINE."""
    start = time.monotonic()
    while not done(dict(routes.current())):
        assert time.monotonic() - start < DEADLINE, f"still {dict(routes.current())}"
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def proxy_cli(settings: Settings, *args: str) -> None:
    """`trackway domains proxy` as its own process (its check finds no domain here)."""
    config = settings.data.parent / "trackway.toml"
    config.write_text(f'[regions]\nus = "{US}"\n[dns]\nnameservers = ["127.0.0.1:9"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    subprocess.run(
        [sys.executable, "-m", "proxy.cli", "domains", "proxy", HOST, *args,
         "--data", str(settings.data), "--config", str(config)],
        capture_output=True, env=env, timeout=60, check=False,
    )  # fmt: skip


async def test_a_change_by_another_connection_is_seen_within_seconds(
    domains: Settings, watched: LiveRoutes
) -> None:
    assert watched.current() == {}
    with open_domain_service(domains) as service:  # another connection, as the API's
        service.set_proxy(HOST, UP)
        await until(watched, lambda r: HOST in r)
        assert watched.current()[HOST] == UpstreamRoute(HOST, "https", "track.customer.io", 443)
        service.set_proxy(HOST, "http://eu.mailgun.org", "upstream")
        await until(watched, lambda r: r[HOST].upstream == "http://eu.mailgun.org")
        assert watched.current()[HOST].host_header_value() == "eu.mailgun.org"
        service.set_redirect(HOST)
        await until(watched, lambda r: r == {})


async def test_a_change_by_the_cli_process_is_seen(domains: Settings, watched: LiveRoutes) -> None:
    await asyncio.to_thread(proxy_cli, domains, "--upstream", UP)
    await until(watched, lambda r: HOST in r)
    await asyncio.to_thread(proxy_cli, domains, "--off")
    await until(watched, lambda r: r == {})


async def test_a_worker_starts_with_the_stored_map(domains: Settings) -> None:
    with open_domain_service(domains) as service:
        service.set_proxy(HOST, UP)
    routes = LiveRoutes(domains)
    routes.load()
    assert list(routes.current()) == [HOST]
    with pytest.raises(TypeError):
        routes.current()[HOST] = routes.current()[HOST]  # type: ignore[index]


async def test_reading_fails_the_last_map_stays_and_is_said_once(
    domains: Settings, watched: LiveRoutes, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    with open_domain_service(domains) as service:
        service.set_proxy(HOST, UP)
        await until(watched, lambda r: HOST in r)
        good = dict(watched.current())
        calls = 0

        def broken(self: DomainService) -> dict[str, UpstreamRoute]:
            nonlocal calls
            calls += 1
            raise OSError("disk I/O error")

        original = DomainService.proxy_routes
        monkeypatch.setattr(DomainService, "proxy_routes", broken)
        with caplog.at_level(logging.INFO, logger="trackway.domains"):
            service.set_redirect(HOST)
            start = time.monotonic()
            while calls < 5:  # the store's version moved: each poll tries again
                assert time.monotonic() - start < DEADLINE
                await asyncio.sleep(0.05)
            assert dict(watched.current()) == good
            failures = [r for r in caplog.records if "reading the proxied hosts" in r.message]
            assert [r.levelname for r in failures] == ["ERROR"]
            monkeypatch.setattr(DomainService, "proxy_routes", original)
            await until(watched, lambda r: r == {})
            assert any("works again" in r.message for r in caplog.records)


async def test_a_slow_read_never_blocks_the_loop(
    domains: Settings, watched: LiveRoutes, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = DomainService.proxy_routes

    def slow(self: DomainService) -> dict[str, UpstreamRoute]:
        time.sleep(SLOW)  # as SQLite waiting on a lock would
        return original(self)

    monkeypatch.setattr(DomainService, "proxy_routes", slow)
    with open_domain_service(domains) as service:
        service.set_proxy(HOST, UP)
    longest, last, start = 0.0, time.monotonic(), time.monotonic()
    while HOST not in watched.current():
        assert time.monotonic() - start < DEADLINE + SLOW
        await asyncio.sleep(0.01)
        now = time.monotonic()
        longest, last = max(longest, now - last), now
    # Read on the loop, a tick would have waited the whole read.
    assert longest < SLOW / 2
