"""The one loading pipeline (`keep_loading`) into PostgreSQL: batches by COPY, a
database that goes away and comes back loses nothing and stores nothing twice, and
`events export` / `stats` read PostgreSQL plus the spool."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from config import ClickSettings, Settings, StoreSettings
from proxy.data_folder import open_loader
from redirector.links.tokens import Claims
from redirector.recording.hits import Hit
from redirector.recording.spool import Spool
from redirector.recording.spool_loader import keep_loading
from redirector.recording.spool_writer import SpoolWriter
from tests.support.postgres import PostgresCluster


def pg_settings(data: Path, url: str) -> Settings:
    return Settings(
        data=data,
        clicks=ClickSettings(burst_links=3, burst_seconds=10),
        store=StoreSettings(url=url, spool_retry_seconds=0.1, load_priority="normal"),
    )


def hit(recipient: str, link: int = 0, address: str = "192.0.2.1") -> Hit:
    claims = Claims("https://example.com/", "m", recipient, link, 0, key_id="k")
    t = time.time()
    return Hit(
        f"{time.time_ns():016x}{recipient:0>10}", t, "click", "Mozilla/5.0", address, claims
    )


def stored(url: str) -> list[tuple[str, str, int]]:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            rows = conn.execute("SELECT id, recipient_id, bot FROM events ORDER BY id")
            return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]
    except psycopg.Error:  # down, or no table yet
        return []


async def until(holds: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not holds():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.05)


async def test_a_database_that_goes_away_loses_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trackway")
    with PostgresCluster() as cluster:  # its own: this test stops it
        url = cluster.new_database()
        settings = pg_settings(tmp_path / "data", url)
        writer = SpoolWriter(Spool(settings.data))
        writer.start()
        stop = asyncio.Event()
        loading = asyncio.create_task(keep_loading(open_loader(settings), stop, "normal"))
        try:
            await asyncio.gather(*(writer.record(hit(f"a{i}")) for i in range(50)))
            await until(lambda: len(stored(url)) == 50, 20)

            cluster.stop()
            await asyncio.gather(*(writer.record(hit(f"b{i}")) for i in range(50)))
            await asyncio.sleep(1.5)  # the loader tries, and keeps trying
            spooled = {e.recipient_id for e in Spool(settings.data).read_all()}
            assert spooled >= {f"b{i}" for i in range(50)}  # waiting in the spool
            said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
            assert len(said) == 1, said  # one line, however many tries
            assert "events wait in the spool" in said[0]

            cluster.restart()
            await until(lambda: len(stored(url)) == 100, 30)
            await asyncio.gather(*(writer.record(hit(f"c{i}")) for i in range(10)))
            await until(lambda: len(stored(url)) == 110, 20)
        finally:
            await writer.close()  # the writers first, as serve stops them
            stop.set()
            await asyncio.wait_for(loading, 30)
        rows = stored(url)
        assert len({r[0] for r in rows}) == len(rows) == 110  # each once
        assert {r[1] for r in rows} == {f"{p}{i}" for p in "ab" for i in range(50)} | {
            f"c{i}" for i in range(10)
        }
        assert any("available again" in r.getMessage() for r in caplog.records)
        assert not list(Spool(settings.data).read_all())


async def test_a_burst_is_found_across_batches(tmp_path: Path, postgres_url: str) -> None:
    settings = pg_settings(tmp_path / "data", postgres_url)
    writer = SpoolWriter(Spool(settings.data))
    writer.start()
    loader = open_loader(settings)
    for link in range(3):  # one client, three links of a message within seconds
        await writer.record(hit("r1", link=link, address="198.51.100.7"))
        loader.load_all()
    await writer.close()
    loader.close()
    assert [r[2] for r in stored(postgres_url)] == [1, 1, 1]


def cli(*args: str, data: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", *args, "--data", str(data)],
        capture_output=True, text=True, env={**env, "TRACKWAY_STORE_URL": url},
        timeout=60, check=False,
    )  # fmt: skip


async def test_export_and_stats_read_postgresql_and_the_spool(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = pg_settings(tmp_path / "data", postgres_url)
    writer = SpoolWriter(Spool(settings.data))
    writer.start()
    await writer.record(hit("loaded"))
    loader = open_loader(settings)
    loader.load_all()
    loader.close()
    await writer.record(hit("spooled", link=1, address="203.0.113.9"))
    await writer.close()
    assert [r[1] for r in stored(postgres_url)] == ["loaded"]

    done = cli("events", "export", data=settings.data, url=postgres_url)
    assert done.returncode == 0, done.stderr
    assert [r["recipient_id"] for r in json.loads(done.stdout)] == ["loaded", "spooled"]
    done = cli("stats", "m", "--json", data=settings.data, url=postgres_url)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [link["human_clicks"] for link in doc["links"]] == [1, 1]
    assert doc["spooled_events"] == 1
