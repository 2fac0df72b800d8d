"""`trackway serve` with `[store] url` set (here $TRACKWAY_STORE_URL): its schema is
migrated at start, clicks are loaded into PostgreSQL, the admin API reads them there."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from pathlib import Path

import psycopg

from proxy.store.migrations import MIGRATIONS
from redirector.recording.event_store import DATABASE_FILE
from tests.proxy.serve.test_serve import click_all, tokens
from tests.support.server_process import ServerProcess


def stored_recipients(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {str(r[0]) for r in conn.execute("SELECT recipient_id FROM events")}


def test_serve_records_clicks_into_postgresql(tmp_path: Path, postgres_url: str) -> None:
    data = tmp_path / "data"
    work = tokens(data, 200)
    answered: list[str] = []
    env = {"TRACKWAY_STORE_URL": postgres_url}
    with ServerProcess(data, workers=2, env=env) as server:
        asyncio.run(click_all(server.url, work, answered))
        assert len(answered) == len(work)
        deadline = time.monotonic() + 20
        while stored_recipients(postgres_url) != set(answered):  # the loader, behind
            assert time.monotonic() < deadline, "not loaded into PostgreSQL in time"
            time.sleep(0.1)

        token = (data / "admin-token").read_text().strip()
        request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1
            f"{server.admin_url}/api/events?limit=1000",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            events = json.loads(resp.read())["events"]
        assert {e["recipient_id"] for e in events} == set(answered)
        assert "postgresql" not in "".join(server.output)  # the URL is never printed

        server.signal_parent(signal.SIGTERM)
        assert server.wait() == 0
    assert not (data / DATABASE_FILE).exists()  # no SQLite beside it
    with psycopg.connect(postgres_url) as conn:
        versions = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
        count = conn.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone()
    assert versions == (len(MIGRATIONS),)  # migrated at start
    assert count == (len(work), len(work))
