"""One connection to the store for the certificate backends: opened when first needed
(the schema migrated then), opened again after a failure, one thread at a time. A
database that is down costs a caller one bounded wait, and StoreUnavailable.

For callers anyone on the internet can set off (the challenge lookups of the workers),
the waits have a bound of their own: `wait` caps the wait for the connection while
another thread holds it (connecting to a database that does not answer holds it for
the connect timeout), and for `pause` seconds after a failed connect every caller
fails at once instead of trying to connect in turn.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg

from proxy.store.connection import CONNECTION_OPTIONS, unavailable_on_errors
from proxy.store.migrate import apply_migrations
from redirector.recording.event_store import StoreUnavailable

__all__ = ["LazyConnection"]


class LazyConnection:
    def __init__(self, url: str, *, wait: float | None = None, pause: float = 0.0) -> None:
        """`wait`: seconds a caller waits for the connection (None: until it is free);
        `pause`: seconds callers fail at once after a failed connect (0: none)."""
        self.url = url
        self.wait = wait
        self.pause = pause
        self._conn: psycopg.Connection[Any] | None = None
        self._migrated = False
        self._lock = threading.Lock()
        self._failed: tuple[float, str] | None = None  # (until, why): the last connect's

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection (autocommit: transactions are explicit)."""
        self._fail_fast()  # before the wait: a known outage costs nothing
        if not self._lock.acquire(timeout=-1 if self.wait is None else self.wait):
            raise StoreUnavailable("PostgreSQL unavailable: busy (no answer in time)")
        try:
            self._fail_fast()
            opening = self._conn is None or self._conn.closed
            try:
                with unavailable_on_errors():
                    conn = self._open()
            except StoreUnavailable as e:
                if opening and self.pause > 0:
                    self._failed = (time.monotonic() + self.pause, str(e))
                self._drop()
                raise
            self._failed = None
            try:
                with unavailable_on_errors():
                    yield conn
            except StoreUnavailable:
                self._drop()  # maybe broken: a new one next time
                raise
        finally:
            self._lock.release()

    def _fail_fast(self) -> None:
        failed = self._failed
        if failed is not None and time.monotonic() < failed[0]:
            raise StoreUnavailable(failed[1])

    def _open(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            if not self._migrated:
                apply_migrations(self.url)
                self._migrated = True
            self._conn = psycopg.connect(self.url, **CONNECTION_OPTIONS)
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        with self._lock:
            self._drop()
