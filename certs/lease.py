"""Leases: one order per name at a time, across processes (and servers).

A lease has a holder, an expiry and a fencing token. The token grows by one at every
acquisition by a new holder (a takeover after expiry, a take after a release), never at
a renewal by the holder itself: a holder that stalled past its expiry and comes back
holds a token older than its successor's, so its late writes can be told apart and
refused (`renew` says it lost the lease; the PostgreSQL certificate write checks the
token in the same transaction). Expiry is what frees a dead holder's name.

`now` is the caller's clock: the SQLite backend (one machine, one clock) decides by it;
one shared by several servers decides by a clock they share (PostgreSQL: the
database's), or a server whose clock runs ahead would take a live lease.

`Leases` is the interface; `SqliteLeases` keeps them in `certs/leases.db` in the data
folder (one server); `proxy.store` has the PostgreSQL backend (several servers).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Protocol

from config.datafolder import create_private_file, ensure_data_dir

__all__ = ["LEASES_FILE", "Leases", "SqliteLeases", "new_holder"]

LEASES_FILE = "certs/leases.db"


def new_holder() -> str:
    """This process's name as a lease holder: unique, and says which process it is."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Leases(Protocol):
    holder: str

    def acquire(self, name: str, now: float, seconds: float) -> int | None:
        """The fencing token when `name` is ours until `now + seconds` (free, expired,
        or already ours: then renewed, same token); None while another holds it."""
        ...

    def renew(self, name: str, token: int, now: float, seconds: float) -> bool:
        """Extend our lease; False when it is no longer ours with this token (taken
        over: expired alone, with nobody else taking it, it is still ours)."""
        ...

    def release(self, name: str, token: int) -> None:
        """Free `name` if we still hold it with `token` (its token is kept: the next
        holder's is greater)."""
        ...

    def close(self) -> None: ...


class SqliteLeases:
    def __init__(self, data: Path) -> None:
        path = data / LEASES_FILE
        create_private_file(ensure_data_dir(path.parent) / path.name)
        # Used from the manager's thread pool: one connection, one thread at a time.
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=5, check_same_thread=False)
        self._lock = threading.Lock()
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT, expires REAL)"
        )
        columns = {row[1] for row in self.conn.execute("PRAGMA table_info(leases)")}
        if "token" not in columns:  # a data folder from before fencing tokens
            self.conn.execute("ALTER TABLE leases ADD COLUMN token INTEGER NOT NULL DEFAULT 0")
        self.holder = new_holder()

    def acquire(self, name: str, now: float, seconds: float) -> int | None:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                row = self.conn.execute(
                    "SELECT holder, expires, token FROM leases WHERE name = ?", (name,)
                ).fetchone()
                if row is not None and row[0] != self.holder and row[1] > now:
                    self.conn.execute("ROLLBACK")
                    return None
                renewal = row is not None and row[0] == self.holder and row[1] > now
                token = int(row[2]) if renewal else (int(row[2]) + 1 if row else 1)
                self.conn.execute(
                    "INSERT OR REPLACE INTO leases (name, holder, expires, token) "
                    "VALUES (?, ?, ?, ?)",
                    (name, self.holder, now + seconds, token),
                )
                self.conn.execute("COMMIT")
                return token
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    def renew(self, name: str, token: int, now: float, seconds: float) -> bool:
        with self._lock:
            changed = self.conn.execute(
                "UPDATE leases SET expires = ? WHERE name = ? AND holder = ? AND token = ?",
                (now + seconds, name, self.holder, token),
            ).rowcount
            return changed == 1

    def release(self, name: str, token: int) -> None:
        with self._lock:
            self.conn.execute(
                "UPDATE leases SET expires = 0 WHERE name = ? AND holder = ? AND token = ?",
                (name, self.holder, token),
            )

    def close(self) -> None:
        self.conn.close()
