"""Numbered migrations on a real PostgreSQL: applied once, under the advisory lock,
even by two callers at once; `trackway db migrate|status`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from proxy.store import migrate
from proxy.store.migrate import apply_migrations, migration_states
from proxy.store.migrations import MIGRATIONS, Migration
from redirector.recording.events import COLUMNS, NULLABLE_COLUMNS

VERSIONS = [m.version for m in MIGRATIONS]


def db(*args: str, data: Path, url: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    if url:
        env["TRACKWAY_STORE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", "db", *args, "--data", str(data)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def test_versions_are_numbered_in_order() -> None:
    # Ranges per part of the schema (issue 14: 10..19 keys and domains, 20..29
    # certificates, 30..39 servers): increasing, each once.
    assert VERSIONS[0] == 1
    assert sorted(set(VERSIONS)) == VERSIONS


def test_a_missing_version_below_the_highest_applied_is_applied(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Versions released in ranges by area: a database with 1 and 25 applied gets 12
    when a release brings it, not only versions above 25."""
    later = Migration(25, "test: a later area's table", ("CREATE TABLE t_later (x int)",))
    earlier = Migration(12, "test: an earlier area's table", ("CREATE TABLE t_earlier (x int)",))
    first = MIGRATIONS[0]
    monkeypatch.setattr(migrate, "MIGRATIONS", (first, later))
    assert apply_migrations(postgres_url) == [1, 25]
    monkeypatch.setattr(migrate, "MIGRATIONS", (first, later, earlier))  # out of order too
    assert apply_migrations(postgres_url) == [12]
    assert apply_migrations(postgres_url) == []
    states = migration_states(postgres_url)
    assert [(s.version, s.applied_at is not None) for s in states] == [
        (1, True),
        (12, True),
        (25, True),
    ]
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT to_regclass('t_earlier')").fetchone() == ("t_earlier",)


def test_applied_once_then_nothing_left(postgres_url: str) -> None:
    assert all(s.applied_at is None for s in migration_states(postgres_url))
    assert apply_migrations(postgres_url) == VERSIONS
    assert apply_migrations(postgres_url) == []
    assert all(s.applied_at is not None for s in migration_states(postgres_url))


def test_two_callers_at_once_apply_each_version_once(postgres_url: str) -> None:
    start = threading.Barrier(2)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            results.append(apply_migrations(postgres_url))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(results, key=len) == [[], VERSIONS]  # one applied all, the other waited
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == VERSIONS


def test_event_columns_come_from_the_event_schema(postgres_url: str) -> None:
    apply_migrations(postgres_url)
    query = (
        "SELECT column_name, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'events' ORDER BY ordinal_position"
    )
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        columns = conn.execute(query).fetchall()
        assert [c[0] for c in columns] == list(COLUMNS)
        assert {c[0] for c in columns if c[1] == "YES"} == NULLABLE_COLUMNS
        # Fields newer than the table (as `label` and `source` once were) become columns
        # at migrate: nullable ones NULL in older rows, the others their field's default.
        conn.execute("ALTER TABLE events DROP COLUMN label, DROP COLUMN source")
        assert apply_migrations(postgres_url) == []
        assert [c[0] for c in conn.execute(query)] == list(COLUMNS)
        assert {c[0] for c in conn.execute(query) if c[1] == "YES"} == NULLABLE_COLUMNS
        default = conn.execute(
            "SELECT column_default FROM information_schema.columns "
            "WHERE table_name = 'events' AND column_name = 'source'"
        ).fetchone()
        assert default is not None
        assert str(default[0]).startswith("'browser'")


def test_db_commands(postgres_url: str, tmp_path: Path) -> None:
    status = db("status", data=tmp_path, url=postgres_url)
    assert status.returncode == 0, status.stderr
    assert f"pending: {' '.join(map(str, VERSIONS))}" in status.stdout
    assert "store: PostgreSQL postgresql://" in status.stdout

    migrate = db("migrate", data=tmp_path, url=postgres_url)
    assert migrate.returncode == 0, migrate.stderr
    assert f"applied: {' '.join(map(str, VERSIONS))}" in migrate.stdout
    again = db("migrate", data=tmp_path, url=postgres_url)
    assert "applied: none (up to date)" in again.stdout

    doc = json.loads(db("status", "--json", data=tmp_path, url=postgres_url).stdout)
    assert doc["store"] == "postgresql"
    assert doc["pending"] == []
    assert [m["version"] for m in doc["migrations"]] == VERSIONS
    assert all(m["applied_at"] for m in doc["migrations"])
    assert "pending: none" in db("status", data=tmp_path, url=postgres_url).stdout


def test_db_status_with_sqlite_says_so(tmp_path: Path) -> None:
    done = db("status", data=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("store: SQLite (")
    assert json.loads(db("status", "--json", data=tmp_path / "data").stdout)["store"] == "sqlite"
    migrate = db("migrate", data=tmp_path / "data")
    assert migrate.returncode == 0, migrate.stderr
    assert (tmp_path / "data" / "trackway.db").exists()


def test_a_database_that_is_down_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    done = db("status", data=tmp_path, url="postgresql://nobody:secret@127.0.0.1:1/none")
    assert done.returncode == 1
    assert done.stderr.startswith("trackway: PostgreSQL unavailable")
    assert "secret" not in done.stderr


def test_a_malformed_url_is_an_error_without_its_password(tmp_path: Path) -> None:
    """libpq quotes what it cannot parse: a password with a bare `%` would be shown."""
    done = db("status", data=tmp_path, url="postgresql://trackway:p%ss-w0rd@127.0.0.1:1/x")
    assert done.returncode == 1
    assert "p%ss" not in done.stderr
    assert "w0rd" not in done.stderr
    assert "the [store] url is malformed" in done.stderr
