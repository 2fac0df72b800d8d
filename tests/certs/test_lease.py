"""The SQLite leases' own part (the contract of both backends is in
tests/proxy/store/certs/test_leases.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from certs.lease import LEASES_FILE, SqliteLeases


def test_a_leases_file_from_before_fencing_tokens_gets_them(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    with sqlite3.connect(tmp_path / LEASES_FILE) as old:
        old.execute("CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT, expires REAL)")
        old.execute("INSERT INTO leases VALUES ('links.example.com', 'gone-1', 50.0)")
    old.close()
    leases = SqliteLeases(tmp_path)
    try:
        assert leases.acquire("links.example.com", now=100.0, seconds=60) == 1  # 0, taken over
    finally:
        leases.close()
