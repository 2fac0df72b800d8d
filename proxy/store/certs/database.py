"""One connection to the store for the certificate backends: opened when first needed
(the schema migrated then), opened again after a failure, one thread at a time. A
database that is down costs a caller one bounded wait, and StoreUnavailable."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import psycopg

from proxy.store.connection import CONNECTION_OPTIONS, unavailable_on_errors
from proxy.store.migrate import apply_migrations
from redirector.recording.event_store import StoreUnavailable

__all__ = ["LazyConnection"]


class LazyConnection:
    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None
        self._migrated = False
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection (autocommit: transactions are explicit)."""
        with self._lock:
            try:
                with unavailable_on_errors():
                    yield self._open()
            except StoreUnavailable:
                self._drop()  # maybe broken: a new one next time
                raise

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
