"""Where events live. `EventStore` is the contract; `SqliteEventStore` the embedded one.

A store is used from one writer thread per process (writes) and from readers (the admin
API, the CLI). A PostgreSQL store for several servers implements the same methods.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils

from config.datafolder import create_private_file, file_lock
from config.errors import Unavailable
from redirector.recording.burst_tracker import Remark
from redirector.recording.events import (
    CLICK,
    COLUMN_DEFAULTS,
    COLUMNS,
    NULLABLE_COLUMNS,
    OPEN,
    Event,
    event_id_floor,
)

DATABASE_FILE = "trackway.db"
log = logging.getLogger("trackway.store")


class StoreUnavailable(Unavailable):
    """The store cannot take writes now (locked, read-only, full, gone): spool instead."""


@dataclass(frozen=True)
class EventFilter:
    message_id: str | None = None
    recipient_id: str | None = None
    kind: str | None = None
    since: float | None = None
    after_id: str | None = None  # paging: events with a greater id
    limit: int = 1000


@dataclass(frozen=True)
class LinkStats:
    link_index: int
    url: str
    label: str | None  # of the link's clicks (the lowest, were there several)
    human_clicks: int
    bot_clicks: int
    unique_recipients: int  # of human clicks

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StoredStats:
    """A message's counts in the store, and what it holds of some events counted
    elsewhere too (the spool's): which are stored, and which of their recipients are
    counted as human already. All of one snapshot of the store."""

    links: list[LinkStats]
    opens: dict[str, int]  # human_opens, bot_opens, unique_openers
    stored_ids: frozenset[str]
    human_clickers: frozenset[tuple[int, str]]  # (link index, recipient)
    human_openers: frozenset[str]
    # Asked for with `by_day` (the admin page's message view), else None.
    days: dict[str, dict[str, int]] | None = None  # UTC day -> DAY_COUNTS -> n
    bot_reasons: dict[int, dict[str, int]] | None = None  # link -> reason -> n


# A day's counts, by kind and humans or bots.
DAY_COUNTS = ("human_clicks", "bot_clicks", "human_opens", "bot_opens")


def day_count(kind: str, bot: bool) -> str:
    """The DAY_COUNTS name of an event of `kind` (click or open)."""
    return f"{'bot' if bot else 'human'}_{kind}s"


def reason_names(reasons: str) -> list[str]:
    """A bot's stored reasons (comma-joined) as counted: "unknown" when none is named."""
    return [r for r in reasons.split(",") if r] or ["unknown"]


def fold_by_day(
    rows: Iterable[Sequence[Any]],
) -> tuple[dict[str, dict[str, int]], dict[int, dict[str, int]]]:
    """`StoredStats.days` and `.bot_reasons` of a store's grouped rows, each (UTC day
    number, kind, bot, link index of a bot's click else None, its stored reasons, count):
    every store's `by_day` query gives these."""
    days: dict[str, dict[str, int]] = {}
    reasons: dict[int, dict[str, int]] = {}
    for day_number, kind, bot, index, stored, n in rows:
        day = time.strftime("%Y-%m-%d", time.gmtime(int(day_number) * 86400))
        counts = days.setdefault(day, dict.fromkeys(DAY_COUNTS, 0))
        counts[day_count(str(kind), bool(bot))] += int(n)
        if index is not None:  # a bot's click
            found = reasons.setdefault(int(index), {})
            for reason in reason_names(str(stored or "")):
                found[reason] = found.get(reason, 0) + int(n)
    return days, reasons


class EventStore(Protocol):
    def write_batch(self, events: Sequence[Event], remarks: Sequence[Remark] = ()) -> None:
        """Commit `events` in one transaction, or raise StoreUnavailable having written none.

        Events already stored (same id) are left as they are. `remarks` name stored
        events that joined a burst: they are marked `burst` too.
        """

    def recent(self, since: float) -> list[Event]:
        """Clicks and prefetches since `since`, oldest first (to warm a burst tracker)."""

    def query(self, flt: EventFilter) -> list[Event]: ...

    def stats(
        self, message_id: str, others: Sequence[Event] = (), by_day: bool = False
    ) -> StoredStats:
        """The counts of `message_id`'s clicks and opens; what is stored of `others`
        (events of that message) in the same snapshot; with `by_day`, the counts per UTC
        day and the bot clicks' reasons too."""

    def close(self) -> None: ...


# Built from the event's field names (events.COLUMNS), never from input. OR IGNORE: loading a
# spool file again (after a crash mid-load) records nothing twice.
_INSERT_ROWS = "INSERT OR IGNORE INTO events ({}) VALUES ".format(", ".join(COLUMNS))
_ROW_MARKS = "(" + ",".join("?" * len(COLUMNS)) + ")"
_ROWS_PER_INSERT = 32766 // len(COLUMNS)  # SQLite's limit on parameters per statement
# Human events, bot events, distinct recipients among the human ones.
_COUNTS = "SUM(bot = 0), SUM(bot = 1), COUNT(DISTINCT CASE WHEN bot = 0 THEN recipient_id END)"
# A message's clicks and opens by UTC day (cut at the whole second, as time.gmtime cuts),
# kind and bot, and its bot clicks by link and reasons too: the rows of fold_by_day.
# Through the (message_id, time) index.
_BOT_CLICK = "CASE WHEN kind = 'click' AND bot = 1 THEN {} END"
_BY_DAY = (
    "SELECT CAST(time AS INTEGER) / 86400 AS day, kind, bot, "
    f"{_BOT_CLICK.format('link_index')} AS link, {_BOT_CLICK.format('reasons')} AS why, "
    "COUNT(*) FROM events WHERE message_id = ? AND kind IN ('click', 'open') "
    "GROUP BY day, kind, bot, link, why"
)
_SAME_CLIENT = "message_id = ? AND client_key = ? AND time >= ? AND kind != 'open'"
_MARK_BURST = (
    "UPDATE events SET bot = 1, reasons = CASE WHEN reasons = '' THEN 'burst' "
    f"ELSE reasons || ',burst' END WHERE {_SAME_CLIENT} "
    "AND ',' || reasons || ',' NOT LIKE '%,burst,%'"
)


def filter_sql(flt: EventFilter, mark: str) -> tuple[str, list[object]]:
    """The `WHERE` clause of `flt` (or ""), with `mark` as the driver's placeholder, and
    its parameters: the one query of either store."""
    where: list[str] = []
    params: list[object] = []
    for column, value in (
        ("message_id", flt.message_id),
        ("recipient_id", flt.recipient_id),
        ("kind", flt.kind),
    ):
        if value is not None:
            where.append(f"{column} = {mark}")
            params.append(value)
    if flt.since is not None:
        where.append(f"id >= {mark}")  # uses the key; see new_event_id
        params.append(event_id_floor(flt.since))
    if flt.after_id is not None:
        where.append(f"id > {mark}")
        params.append(flt.after_id)
    return (" WHERE " + " AND ".join(where) if where else ""), params


def open_database(path: Path, synchronous: str, busy_timeout_ms: int, read_only: bool) -> Any:
    if read_only:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        create_private_file(path)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    if not read_only:
        conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    return conn


class SqliteEventStore:
    def __init__(
        self,
        path: Path,
        *,
        synchronous: str = "full",
        busy_timeout_ms: int = 2000,
        read_only: bool = False,
    ) -> None:
        self.path = path
        self._lacking: frozenset[str] = frozenset()  # columns an old database lacks
        try:
            self.conn = open_database(path, synchronous, busy_timeout_ms, read_only)
            self.db = sqlite_utils.Database(self.conn)
            if not read_only:
                # In the writers' turn: SQLite answers "database is locked" at once,
                # without its busy wait, to a second connection doing this meanwhile.
                with self._write_turn():
                    self.conn.execute("PRAGMA journal_mode = WAL")
                    self._create_schema()
            self._lacking = self._missing_columns()
        except (sqlite3.Error, OSError) as e:  # OSError: the file cannot be made
            raise StoreUnavailable(f"database unavailable: {path}: {e}") from e

    def _create_schema(self) -> None:
        events = self.db.table("events")
        if not events.exists():
            # One index beside the key: every index costs each insert, and one keyed by
            # something random (a client) dirties a page per event. Ids are time-ordered,
            # so the key answers time ranges; (message, time) answers per-message queries
            # and burst re-marks, and grows at its ends.
            events.create(COLUMNS, pk="id", not_null=set(COLUMNS) - NULLABLE_COLUMNS)
            events.create_index(["message_id", "time"], if_not_exists=True)
        elif self._missing_columns():
            self._add_columns(events)

    def _add_columns(self, events: Any) -> None:
        """A database of an earlier version lacks the columns of newer fields (`label`,
        `source`): they are added, NULL in its rows (or the field's default, for one that
        is never NULL). Failing that (a read-only file, a lock held too long), it is
        still read, with those values for them; writing fails until they are added (the
        loader opens it again, and events wait in the spool meanwhile)."""
        try:  # in the writers' turn (`__init__`): another process may be adding them
            for name in sorted(self._missing_columns()):
                default = COLUMN_DEFAULTS.get(name)
                events.add_column(name, COLUMNS[name], not_null_default=default)
        except (OSError, sqlite3.Error) as e:
            log.warning("cannot add %s to %s: %s", sorted(self._missing_columns()), self.path, e)

    def _missing_columns(self) -> frozenset[str]:
        present = self.db.table("events").columns_dict
        return frozenset(COLUMNS) - set(present) if present else frozenset()

    def _read_columns(self) -> dict[str, str]:
        """What to read for each field: its column, or NULL (its default) while an old
        database lacks it (looked at again: another process may have added it since)."""
        if self._lacking:
            self._lacking = self._missing_columns()
        return {
            name: _sql_literal(COLUMN_DEFAULTS.get(name)) if name in self._lacking else name
            for name in COLUMNS
        }

    def _select(self) -> str:
        return "SELECT {} FROM events".format(", ".join(self._read_columns().values()))

    def write_batch(self, events: Sequence[Event], remarks: Sequence[Remark] = ()) -> None:
        conn = self.conn
        try:
            with self._write_turn():
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for remark in remarks:
                        conn.execute(
                            _MARK_BURST, (remark.message_id, remark.client_key, remark.since)
                        )
                    self._insert(events)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as e:
            raise StoreUnavailable(f"database unavailable: {e}") from e

    def _insert(self, events: Sequence[Event]) -> None:
        """One statement for the whole batch: fewer round trips into SQLite."""
        for start in range(0, len(events), _ROWS_PER_INSERT):
            chunk = events[start : start + _ROWS_PER_INSERT]
            params = [value for event in chunk for value in event.storable_values()]
            self.conn.execute(_INSERT_ROWS + ",".join([_ROW_MARKS] * len(chunk)), params)

    def _write_turn(self) -> contextlib.AbstractContextManager[None]:
        """Writers of one data folder take turns here, in the kernel, rather than in
        SQLite's busy handler, whose growing sleeps starve one writer while another
        commits again and again."""
        return file_lock(self.path.with_name(f".{self.path.name}.write-lock"))

    def recent(self, since: float) -> list[Event]:
        try:
            cursor = self.conn.execute(
                f"{self._select()} WHERE id >= ? AND kind != 'open' ORDER BY id",
                (event_id_floor(since),),
            )
            return [Event.from_values(row) for row in cursor]
        except sqlite3.Error as e:
            raise StoreUnavailable(f"database unavailable: {e}") from e

    def query(self, flt: EventFilter) -> list[Event]:
        where, params = filter_sql(flt, "?")
        sql = f"{self._select()}{where} ORDER BY id LIMIT ?"
        params.append(flt.limit)
        try:
            return [Event.from_values(row) for row in self.conn.execute(sql, params)]
        except sqlite3.Error as e:
            raise StoreUnavailable(f"database unavailable: {e}") from e

    def stats(
        self, message_id: str, others: Sequence[Event] = (), by_day: bool = False
    ) -> StoredStats:
        try:
            self.conn.execute("BEGIN")  # one snapshot: the loader may commit meanwhile
            try:
                links, opens = self._stats(message_id)
                stored = self._stored_of(message_id, others)
                if not by_day:
                    return StoredStats(links, opens, *stored)
                # Counted by SQLite, a row per group: the events are never read out.
                rows = self.conn.execute(_BY_DAY, (message_id,))
                return StoredStats(links, opens, *stored, *fold_by_day(rows))
            finally:
                self.conn.execute("COMMIT")
        except sqlite3.Error as e:
            raise StoreUnavailable(f"database unavailable: {e}") from e

    def _stored_of(
        self, message_id: str, others: Sequence[Event]
    ) -> tuple[frozenset[str], frozenset[tuple[int, str]], frozenset[str]]:
        if not others:
            return frozenset(), frozenset(), frozenset()
        # One JSON parameter each, whatever their number (SQLite limits parameters).
        ids = json.dumps([e.id for e in others])
        recipients = json.dumps(sorted({e.recipient_id for e in others}))
        stored = self.conn.execute(
            "SELECT id FROM events WHERE id IN (SELECT value FROM json_each(?))", (ids,)
        )
        humans = self.conn.execute(
            "SELECT DISTINCT kind, link_index, recipient_id FROM events WHERE message_id = ? "
            "AND bot = 0 AND recipient_id IN (SELECT value FROM json_each(?))",
            (message_id, recipients),
        ).fetchall()
        return (
            frozenset(row[0] for row in stored),
            frozenset((int(r[1]), str(r[2])) for r in humans if r[0] == CLICK),
            frozenset(str(r[2]) for r in humans if r[0] == OPEN),
        )

    def _stats(self, message_id: str) -> tuple[list[LinkStats], dict[str, int]]:
        links = [
            LinkStats(int(r[0]), str(r[1]), r[2], int(r[3]), int(r[4]), int(r[5]))
            for r in self.conn.execute(
                f"SELECT link_index, MIN(url), MIN({self._read_columns()['label']}), {_COUNTS} "
                "FROM events WHERE message_id = ? AND kind = 'click' "
                "GROUP BY link_index ORDER BY link_index",
                (message_id,),
            )
        ]
        row = self.conn.execute(
            f"SELECT {_COUNTS} FROM events WHERE message_id = ? AND kind = 'open'",
            (message_id,),
        ).fetchone()
        opens = {
            "human_opens": int(row[0] or 0),
            "bot_opens": int(row[1] or 0),
            "unique_openers": int(row[2] or 0),
        }
        return links, opens

    def close(self) -> None:
        self.conn.close()


def _sql_literal(value: str | int | float | None) -> str:
    """A field's default as SQL: the events' own constants, never input."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(int(value) if isinstance(value, bool) else value)
