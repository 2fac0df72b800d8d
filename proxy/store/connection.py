"""Connections to the PostgreSQL store: bounded waits, and driver errors as ours."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, Protocol

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from redirector.recording.event_store import StoreUnavailable

__all__ = [
    "CONNECTION_OPTIONS",
    "CONNECT_SECONDS",
    "Connections",
    "SingleConnection",
    "connect",
    "open_pool",
    "unavailable_on_errors",
]

# A database that does not answer must not hold up a loader or a command for long: the
# events wait in the spool, and the next try comes soon enough.
CONNECT_SECONDS = 5
# Every wait bounded: a lock held by a hung session (an advisory lock of migrations, a
# partition's DROP) or a statement that does not end gives an error, not a loader or a
# start stuck for good; a peer gone without a word is found by TCP keepalives.
CONNECTION_OPTIONS: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": CONNECT_SECONDS,
    # No JIT: our statements are short, and compiling one (a batch's client lookup, priced
    # above jit_above_cost by its row estimate) took longer than running it.
    "options": "-c lock_timeout=30000 -c statement_timeout=120000 -c jit=off",
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    # Keepalives watch an idle connection only: a peer that stops acknowledging what we
    # sent (packets dropped mid-statement) ends the call after this, not the kernel's
    # retransmissions (about 15 minutes).
    "tcp_user_timeout": 30_000,
}


def connect(url: str) -> psycopg.Connection[Any]:
    """One connection (autocommit: transactions are explicit); StoreUnavailable if not."""
    with unavailable_on_errors():
        return psycopg.connect(url, **CONNECTION_OPTIONS)


class Connections(Protocol):
    """Where a store takes its connection from: a pool's interface."""

    def connection(self) -> contextlib.AbstractContextManager[psycopg.Connection[Any]]: ...

    def close(self) -> None: ...


class SingleConnection:
    """One connection, for one thread at a time: the loader's (which opens the store
    anew after a failure, so needs no pool to replace a broken connection, nor its
    warnings), a command's."""

    def __init__(self, url: str) -> None:
        self._conn = connect(url)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self._lock:
            yield self._conn

    def close(self) -> None:
        self._conn.close()


def open_pool(url: str, size: int) -> ConnectionPool:
    """Up to `size` connections, the first one open; StoreUnavailable if it cannot be.
    For long-lived readers (the admin API): a connection broken by a restart of the
    database is replaced by the pool."""
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        open=False,
        timeout=CONNECT_SECONDS,
        kwargs=CONNECTION_OPTIONS,
        name="trackway-store",
    )
    try:
        with unavailable_on_errors():
            pool.open(wait=True, timeout=CONNECT_SECONDS)
    except BaseException:
        pool.close()
        raise
    return pool


@contextlib.contextmanager
def unavailable_on_errors() -> Iterator[None]:
    """The database's failures (down, read-only, refusing us) as StoreUnavailable: the
    events wait in the spool. A value it refuses (DataError) is raised as it is, so that
    the loader leaves out that event alone."""
    try:
        yield
    except psycopg.DataError:
        raise
    except (psycopg.Error, PoolTimeout) as e:
        raise StoreUnavailable(f"PostgreSQL unavailable: {_first_line(e)}") from e


def _first_line(error: Exception) -> str:
    if isinstance(error, psycopg.ProgrammingError):
        # libpq quotes the piece of the URL it could not parse, the password as well.
        return "the [store] url is malformed (not shown: it holds a password)"
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
