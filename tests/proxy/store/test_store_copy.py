"""`trackway store copy --to postgresql://…`: a single-server data folder's events (its
SQLite database and the spool not loaded yet) into PostgreSQL, every event once however
often it runs, with progress on stderr and counts at the end."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from config import ClickSettings, Settings
from proxy.cli.db import DrawnProgress
from proxy.data_folder import client_salt
from proxy.store.copy import copy_events
from redirector.links.keyring import SigningKey
from redirector.links.keystore import load_keyring, read_keyring, write_keyring
from redirector.links.tokens import Claims
from redirector.recording.event_store import DATABASE_FILE, SqliteEventStore
from redirector.recording.events import new_event_id
from redirector.recording.hits import Hit, event_from_hit
from redirector.recording.spool import Spool
from redirector.recording.spool.folder import encode_hits
from tests.proxy.serve.test_serve import click_all, recorded_recipients, tokens
from tests.support.server_process import ServerProcess


def cli(*args: str, data: Path, url: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    if url:
        env["TRACKWAY_STORE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", *args, "--data", str(data)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def spool_hits(data: Path, recipients: list[str]) -> None:
    """Hits a server made durable and did not load (it was killed): the spool's."""
    spool = Spool(data)
    hits = [
        Hit(new_event_id(), time.time(), "click", "Mozilla/5.0", "192.0.2.9",
            Claims("https://example.com/s", "m", r, 0, 0, key_id="k"))
        for r in recipients
    ]  # fmt: skip
    spool.append_encoded(encode_hits(hits))
    spool.release()


def exported(url: str, data: Path) -> list[dict[str, object]]:
    done = cli("events", "export", "--format", "json", data=data, url=url)
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, object]] = json.loads(done.stdout)
    return rows


def test_store_copy_keeps_every_event_once(tmp_path: Path, postgres_url: str) -> None:
    data = tmp_path / "data"
    work = tokens(data, 120)
    answered: list[str] = []
    with ServerProcess(data, workers=2) as server:  # SQLite: the embedded default
        asyncio.run(click_all(server.url, work, answered))
        server.signal_parent(signal.SIGTERM)
        assert server.wait() == 0
    assert len(answered) == len(work)
    assert (data / DATABASE_FILE).exists()
    spool_hits(data, [f"s{i}" for i in range(30)])
    recorded = recorded_recipients(data)
    assert recorded == set(answered) | {f"s{i}" for i in range(30)}

    with_password = postgres_url.replace("trackway@", "trackway:s3cret@")  # trust: any
    first = cli("store", "copy", "--to", with_password, data=data)
    assert first.returncode == 0, first.stderr
    assert "events: 150 copied" in first.stdout
    assert "keys: 1 copied" in first.stdout  # the ring every link was signed with
    assert "domains: 0 copied" in first.stdout
    assert "certificates: 0 copied" in first.stdout
    assert "events: 100% (150/150)" in first.stderr  # not a terminal: percentage lines
    assert "\r" not in first.stderr
    assert "s3cret" not in first.stdout + first.stderr

    again = cli("store", "copy", "--to", postgres_url, "--quiet", data=data)
    assert again.returncode == 0, again.stderr
    assert "events: 150 copied" in again.stdout
    assert "keys: 0 copied" in again.stdout  # already there
    assert again.stderr == ""  # --quiet

    with psycopg.connect(postgres_url) as conn:
        count = conn.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone()
        keys = [str(r[0]) for r in conn.execute("SELECT id FROM signing_keys")]
    assert count == (150, 150)  # run twice: stored once
    assert keys == [key.key_id for key in read_keyring(data).keys]
    # Another server's folder (an empty spool): PostgreSQL holds every event, once.
    rows = exported(postgres_url, tmp_path / "other")
    assert sorted(str(r["recipient_id"]) for r in rows) == sorted(recorded)
    assert len({r["id"] for r in rows}) == 150


def copy_settings(tmp_path: Path) -> Settings:
    settings = Settings(data=tmp_path / "data", clicks=ClickSettings(too_fast_seconds=10))
    settings.data.mkdir(mode=0o700, parents=True)
    return settings


def click(link: int, t: float, message: str = "m") -> Hit:
    claims = Claims("https://example.com/s", message, "r", link, 0, key_id="k")
    return Hit(new_event_id(), t, "click", "Mozilla/5.0", "192.0.2.9", claims)


def test_store_copy_finds_a_burst_across_its_batches(tmp_path: Path, postgres_url: str) -> None:
    """Copy has no burst tracker: each batch's clients are looked up among what it stored
    before (here: two links in the SQLite database, the third in the spool)."""
    settings = copy_settings(tmp_path)
    salt, now = client_salt(settings.data), time.time()
    stored = SqliteEventStore(settings.data / DATABASE_FILE)
    stored.write_batch([event_from_hit(click(i, now + i), settings.clicks, salt) for i in (0, 1)])
    stored.close()
    spool = Spool(settings.data)
    spool.append_encoded(encode_hits([click(2, now + 2)]))
    spool.release()
    assert copy_events(settings, postgres_url) == 3
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT link_index, bot, reasons FROM events ORDER BY link_index")
        assert list(rows) == [(0, 1, "burst"), (1, 1, "burst"), (2, 1, "burst")]


def test_store_copy_twice_with_a_nul_in_a_message_id(tmp_path: Path, postgres_url: str) -> None:
    settings = copy_settings(tmp_path)
    stored = SqliteEventStore(settings.data / DATABASE_FILE)
    stored.write_batch([event_from_hit(click(0, time.time(), "m\x00"), settings.clicks, b"s")])
    stored.close()
    assert copy_events(settings, postgres_url) == 1
    assert copy_events(settings, postgres_url) == 1  # looked up the second time: stored once
    with psycopg.connect(postgres_url) as conn:
        assert list(conn.execute("SELECT message_id FROM events")) == [("m\ufffd",)]


def test_store_copy_refuses_a_url_that_is_not_postgresql(tmp_path: Path) -> None:
    done = cli("store", "copy", "--to", "sqlite:///x.db", data=tmp_path / "data")
    assert done.returncode == 1
    assert done.stderr.startswith("trackway: --to:")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_redrawn_on_a_terminal_and_lines_elsewhere() -> None:
    terminal, log = Terminal(), io.StringIO()
    for out in (terminal, log):
        progress = DrawnProgress(out)
        progress.step("events")
        for done in range(0, 1001, 50):
            progress.update("events", done, 1000)
        progress.finish("events", 1000)
    assert terminal.getvalue().count("\r") == 21  # one redraw each update, in place
    assert terminal.getvalue().endswith("] 100% 1000/1000\n")
    assert "[###############---------------]  50% 500/1000" in terminal.getvalue()
    lines = log.getvalue().splitlines()
    assert lines == [f"events: {p}% ({p * 10}/1000)" for p in range(0, 101, 10)]


def test_store_copy_refuses_a_key_id_with_another_secret_in_one_line(
    tmp_path: Path, postgres_url: str
) -> None:
    first, other = tmp_path / "first", tmp_path / "other"
    held = load_keyring(first, 1_800_000_000).signing_key
    assert cli("store", "copy", "--to", postgres_url, "--quiet", data=first).returncode == 0
    write_keyring(other, [SigningKey(held.key_id, bytes(range(32)), held.created_at)])
    done = cli("store", "copy", "--to", postgres_url, "--quiet", data=other)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"trackway: key {held.key_id}: the database holds another key with this id; "
        "nothing of the key ring copied"
    ]
    assert "events:" not in done.stdout  # the copy stopped at the key ring
