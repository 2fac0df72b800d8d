"""A lease lock in SQLite: one order per name at a time, across processes.

Taken with an expiry, so a holder that dies does not block the name forever; renewed
by re-taking it. `certs/leases.db` in the data folder.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from pathlib import Path

from config.datafolder import create_private_file, ensure_data_dir

LEASES_FILE = "certs/leases.db"


class Leases:
    def __init__(self, data: Path) -> None:
        path = data / LEASES_FILE
        create_private_file(ensure_data_dir(path.parent) / path.name)
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=5)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT, expires REAL)"
        )
        self.holder = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def acquire(self, name: str, now: float, seconds: float) -> bool:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            row = self.conn.execute(
                "SELECT holder, expires FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if row is not None and row[0] != self.holder and row[1] > now:
                self.conn.execute("ROLLBACK")
                return False
            self.conn.execute(
                "INSERT OR REPLACE INTO leases (name, holder, expires) VALUES (?, ?, ?)",
                (name, self.holder, now + seconds),
            )
            self.conn.execute("COMMIT")
            return True
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def release(self, name: str) -> None:
        self.conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, self.holder))

    def close(self) -> None:
        self.conn.close()
