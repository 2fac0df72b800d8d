"""The PostgreSQL `EventStore`: events of every server on one database.

A batch goes in with one binary COPY straight into `events`, in one transaction with
its burst re-marks: never a statement per event. A batch that cannot go in so (some of
it stored already: a spool loaded again after a crash; a NUL or a lone surrogate,
which PostgreSQL's text cannot hold) goes in again the careful way: each text made
storable, COPY into a temporary table, one INSERT … ON CONFLICT DO NOTHING (an event
loaded twice is stored once). The month partitions a batch needs are made first, under
an advisory lock (servers may race for a new month); with `retention_days`, months past
it are dropped, hourly.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import psycopg

from proxy.store.connection import (
    Connections,
    SingleConnection,
    open_pool,
    unavailable_on_errors,
)
from proxy.store.migrate import apply_migrations
from proxy.store.migrations import EVENT_COLUMN_TYPES
from proxy.store.partitions import Month, expired, month_of_name, months_of
from redirector.recording.bot_rules import BurstPolicy
from redirector.recording.burst_tracker import (
    MAX_HITS_PER_CLIENT,
    Remark,
    bursts_with_stored,
)
from redirector.recording.event_store import (
    EventFilter,
    LinkStats,
    StoredStats,
    filter_sql,
    fold_by_day,
)
from redirector.recording.events import (
    CLICK,
    COLUMNS,
    OPEN,
    Event,
    event_id_floor,
    storable,
)

__all__ = ["PostgresEventStore"]

log = logging.getLogger("trackway.store")
PARTITION_LOCK = int.from_bytes(b"trackpar", "big")
# Held by a loader while it looks up its batch's clients and writes the batch: two
# servers loading hits of one client at once would each miss the other's.
BURST_LOCK = int.from_bytes(b"trackbur", "big")
RETENTION_EVERY = 3600.0  # seconds between looks for months past retention

_COLUMN_LIST = ", ".join(COLUMNS)
_SELECT = f"SELECT {_COLUMN_LIST} FROM events"
_LOAD_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS events_load "
    "(LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_COPY_INTO = {
    table: f"COPY {table} ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)"
    for table in ("events", "events_load")
}
_MOVE = (
    f"INSERT INTO events ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM events_load "
    "ON CONFLICT (id, time) DO NOTHING"
)
_MARK_BURST = (
    "UPDATE events SET bot = 1, reasons = CASE WHEN reasons = '' THEN 'burst' "
    "ELSE reasons || ',burst' END WHERE message_id = %s AND client_key = %s AND time >= %s "
    "AND kind != 'open' AND ',' || reasons || ',' NOT LIKE '%%,burst,%%'"
)
# A client's newest hits in the window, as many as a burst tracker keeps of it (one
# behind a gateway can have thousands): one index range each, read backwards. The
# batch's clients come as two arrays (binary: 52 ms for 20k clients, 70 ms as text),
# compared as the columns are (COLLATE "C").
_CLIENTS_HITS = (
    "SELECT c.message_id, c.client_key, h.link_index, h.time, h.id FROM "
    "unnest(%b::text[], %b::text[]) AS c(message_id, client_key) CROSS JOIN LATERAL "
    '(SELECT link_index, time, id FROM events WHERE message_id = c.message_id COLLATE "C" '
    'AND client_key = c.client_key COLLATE "C" AND time >= %s AND time <= %s '
    "AND kind != 'open' ORDER BY time DESC LIMIT %s) AS h"
)
# Whether a loader other than this one stored events of these minutes.
_OTHERS_LOADED = (
    "SELECT EXISTS (SELECT 1 FROM event_loads WHERE minute >= %s AND minute <= %s "
    "AND loader != %s)"
)
_LOADED = (
    "INSERT INTO event_loads (minute, loader) SELECT unnest(%b::bigint[]), %s "
    "ON CONFLICT DO NOTHING"
)
# Human events, bot events, distinct recipients among the human ones.
_COUNTS = (
    "COUNT(*) FILTER (WHERE bot = 0), COUNT(*) FILTER (WHERE bot = 1), "
    "COUNT(DISTINCT recipient_id) FILTER (WHERE bot = 0)"
)
# SQLite's by-day query (redirector/recording/event_store.py) in PostgreSQL's words: the
# rows of fold_by_day, the day cut at the whole second; through the message_id prefix of
# events_client (message_id, client_key, time).
_BOT_CLICK = "CASE WHEN kind = 'click' AND bot = 1 THEN {} END"
_BY_DAY = (
    "SELECT FLOOR(time)::bigint / 86400 AS day, kind, bot, "
    f"{_BOT_CLICK.format('link_index')} AS link, {_BOT_CLICK.format('reasons')} AS why, "
    "COUNT(*) FROM events WHERE message_id = %s AND kind IN ('click', 'open') "
    "GROUP BY 1, 2, 3, 4, 5"
)
_PARTITIONS = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'events'::regclass"
)


def _careful_text(text: str) -> str:
    """As PostgreSQL's text can hold it: valid Unicode, without NUL (which SQLite keeps)."""
    return storable(text).replace("\x00", "\ufffd")


def _careful_event(event: Event) -> Event:
    return Event.from_values(
        tuple(_careful_text(v) if isinstance(v, str) else v for v in event.as_values())
    )


class PostgresEventStore:
    """`pool_size` 0: one connection (a loader, a command); more: a pool of that many
    (long-lived readers). `burst`: a loader's policy, to find bursts with the hits other
    servers stored (each server's loader knows only its own). `tracked`: the caller's
    burst tracker knows the hits this store wrote (a server's loader), so a batch near
    no other store's events is not looked up; `store copy` has none (False)."""

    def __init__(
        self,
        url: str,
        *,
        retention_days: int = 0,
        pool_size: int = 0,
        burst: BurstPolicy | None = None,
        tracked: bool = True,
    ) -> None:
        apply_migrations(url)
        self.retention_days = retention_days
        self.burst = burst
        self.tracked = tracked
        self._pool: Connections = open_pool(url, pool_size) if pool_size else SingleConnection(url)
        self._months: set[Month] = set()  # partitions known to exist
        # This store's name in event_loads: any other (another server, this one after a
        # restart) counts as another loader, whose hits its burst tracker does not know.
        self._loader = os.urandom(8).hex()
        self._next_retention = 0.0

    def write_batch(self, events: Sequence[Event], remarks: Sequence[Remark] = ()) -> None:
        with unavailable_on_errors(), self._pool.connection() as conn:
            needed = months_of(e.time for e in events) - self._months
            if needed:
                self._create_partitions(conn, needed)
            try:
                try:
                    self._write(conn, events, remarks, careful=False)
                except (psycopg.errors.UniqueViolation, psycopg.DataError, UnicodeEncodeError):
                    self._write(conn, events, remarks, careful=True)
            except psycopg.errors.CheckViolation:
                # No partition for a row: dropped meanwhile (retention, another server).
                self._months.clear()
                raise
            if self.retention_days and time.monotonic() >= self._next_retention:
                self._next_retention = time.monotonic() + RETENTION_EVERY
                self._drop_expired(conn, time.time())

    def _write(
        self,
        conn: psycopg.Connection[Any],
        events: Sequence[Event],
        remarks: Sequence[Remark],
        careful: bool,
    ) -> None:
        if careful:  # as they will be stored, and the lookup asks for them so
            events = [_careful_event(e) for e in events]
            remarks = [
                Remark(_careful_text(r.message_id), _careful_text(r.client_key), r.since)
                for r in remarks
            ]
        with conn.transaction():
            if events and self.burst is not None:
                # Before the COPY: the batch's events get their marks as they go in.
                remarks = [*remarks, *self._across_servers(conn, events, self.burst)]
            for remark in remarks:
                conn.execute(_MARK_BURST, (remark.message_id, remark.client_key, remark.since))
            if not events:
                return
            if careful:
                conn.execute(_LOAD_TABLE)
            with conn.cursor().copy(_COPY_INTO["events_load" if careful else "events"]) as copy:
                copy.set_types(EVENT_COLUMN_TYPES)
                for event in events:
                    copy.write_row(event.as_values())
            if careful:
                conn.execute(_MOVE)
            minutes = sorted({int(e.time // 60) for e in events})
            conn.execute(_LOADED, (minutes, self._loader))

    def _across_servers(
        self, conn: psycopg.Connection[Any], events: Sequence[Event], policy: BurstPolicy
    ) -> list[Remark]:
        """Bursts of the batch with the stored hits of its clients, when another loader
        stored events near its times, read in the database: only the few clients that
        have some come back. The lock until commit: a loader after this one sees this
        batch and its event_loads rows."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (BURST_LOCK,))
        since = min(e.time for e in events) - policy.seconds
        until = max(e.time for e in events) + policy.seconds
        others = conn.execute(
            _OTHERS_LOADED, (int(since // 60), int(until // 60), self._loader)
        ).fetchone()
        if self.tracked and not (others and others[0]):
            return []  # only this loader's events there: its tracker knows them
        clients = {(e.message_id, e.client_key) for e in events if e.kind != OPEN and e.client_key}
        if not clients:
            return []
        messages, keys = zip(*clients, strict=True)
        stored = conn.execute(
            _CLIENTS_HITS, (list(messages), list(keys), since, until, MAX_HITS_PER_CLIENT)
        ).fetchall()
        if not stored:
            return []
        found = {(row[0], row[1]) for row in stored}
        theirs = [e for e in events if (e.message_id, e.client_key) in found]
        return bursts_with_stored(theirs, stored, policy)

    def _create_partitions(self, conn: psycopg.Connection[Any], months: set[Month]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
            for month in sorted(months):
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {month.name} PARTITION OF events "
                    f"FOR VALUES FROM ({month.start!r}) TO ({month.end!r})"
                )
        self._months |= months

    def drop_expired(self, now: float) -> list[str]:
        """Drops the months past `retention_days` at `now`; their names."""
        with unavailable_on_errors(), self._pool.connection() as conn:
            return self._drop_expired(conn, now)

    def _drop_expired(self, conn: psycopg.Connection[Any], now: float) -> list[str]:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
            names = [str(row[0]) for row in conn.execute(_PARTITIONS)]
            dropped = expired(names, self.retention_days, now)
            for name in dropped:
                conn.execute(f"DROP TABLE {name}")
            ends = [m.end for m in map(month_of_name, dropped) if m is not None]
            if ends:  # every month before these is gone too
                conn.execute("DELETE FROM event_loads WHERE minute < %s", (int(max(ends) // 60),))
        if dropped:
            self._months.clear()
            log.info("dropped events older than %d days: %s", self.retention_days, dropped)
        return dropped

    def partitions(self) -> list[str]:
        with unavailable_on_errors(), self._pool.connection() as conn:
            return sorted(str(row[0]) for row in conn.execute(_PARTITIONS))

    def recent(self, since: float) -> list[Event]:
        sql = f"{_SELECT} WHERE id >= %s AND kind != 'open' ORDER BY id"
        return self._events(sql, (event_id_floor(since),))

    def query(self, flt: EventFilter) -> list[Event]:
        where, params = filter_sql(flt, "%s")
        params.append(flt.limit)
        return self._events(f"{_SELECT}{where} ORDER BY id LIMIT %s", params)

    def _events(self, sql: str, params: Sequence[object]) -> list[Event]:
        with unavailable_on_errors(), self._pool.connection() as conn:
            return [Event.from_values(row) for row in conn.execute(sql, params)]

    def stats(
        self, message_id: str, others: Sequence[Event] = (), by_day: bool = False
    ) -> StoredStats:
        with unavailable_on_errors(), self._pool.connection() as conn, conn.transaction():
            # One snapshot: the loader may commit meanwhile.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            links = [
                LinkStats(int(r[0]), str(r[1]), r[2], int(r[3]), int(r[4]), int(r[5]))
                for r in conn.execute(
                    f"SELECT link_index, MIN(url), MIN(label), {_COUNTS} FROM events "
                    "WHERE message_id = %s AND kind = 'click' GROUP BY link_index "
                    "ORDER BY link_index",
                    (message_id,),
                )
            ]
            row = conn.execute(
                f"SELECT {_COUNTS} FROM events WHERE message_id = %s AND kind = 'open'",
                (message_id,),
            ).fetchone()
            assert row is not None  # an aggregate always has a row
            opens = {"human_opens": row[0], "bot_opens": row[1], "unique_openers": row[2]}
            stored = self._stored_of(conn, message_id, others)
            if not by_day:
                return StoredStats(links, opens, *stored)
            # Counted by PostgreSQL, a row per group: the events are never read out.
            rows = conn.execute(_BY_DAY, (message_id,)).fetchall()
            return StoredStats(links, opens, *stored, *fold_by_day(rows))

    def _stored_of(
        self, conn: psycopg.Connection[Any], message_id: str, others: Sequence[Event]
    ) -> tuple[frozenset[str], frozenset[tuple[int, str]], frozenset[str]]:
        if not others:
            return frozenset(), frozenset(), frozenset()
        stored = conn.execute(
            "SELECT id FROM events WHERE id = ANY(%s)", ([e.id for e in others],)
        ).fetchall()
        humans = conn.execute(
            "SELECT DISTINCT kind, link_index, recipient_id FROM events WHERE message_id = %s "
            "AND bot = 0 AND recipient_id = ANY(%s)",
            (message_id, sorted({e.recipient_id for e in others})),
        ).fetchall()
        return (
            frozenset(str(row[0]) for row in stored),
            frozenset((int(r[1]), str(r[2])) for r in humans if r[0] == CLICK),
            frozenset(str(r[2]) for r in humans if r[0] == OPEN),
        )

    def close(self) -> None:
        self._pool.close()
