"""The schema's versions, numbered: each one applied once, in order (`migrate`).

A version, once released, is never edited: a change is a new version at the end. The
events table's columns derive from the one event schema (`events.COLUMNS`); a field
added to `Event` later becomes a column by itself (`missing_event_columns`, added at
every migrate), as in SQLite; anything else (an index, a type) is a new version here.
"""

from __future__ import annotations

from dataclasses import dataclass

from redirector.recording.events import COLUMNS, NULLABLE_COLUMNS

__all__ = ["EVENT_COLUMN_TYPES", "MIGRATIONS", "Migration", "event_column_sql"]

# Python type of a column (events.COLUMNS) -> PostgreSQL's. Text compares by code
# point (COLLATE "C"), as SQLite and Python do: paging by id, and MIN(url) in stats.
_SQL_TYPES = {str: 'text COLLATE "C"', float: "double precision", int: "bigint"}
# The same, as binary COPY names them.
_COPY_TYPES = {str: "text", float: "float8", int: "int8"}
EVENT_COLUMN_TYPES = tuple(_COPY_TYPES[tp] for tp in COLUMNS.values())


def event_column_sql(name: str) -> str:
    not_null = "" if name in NULLABLE_COLUMNS else " NOT NULL"
    return f"{name} {_SQL_TYPES[COLUMNS[name]]}{not_null}"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events, partitioned by month",
        (
            # The key holds the partition key (PostgreSQL requires it); an event loaded
            # twice has the same id and time, so it is stored once all the same. Ranges of
            # `time` (unix seconds): one partition a month, made when its first event comes,
            # so retention drops whole months.
            "CREATE TABLE events ({}, PRIMARY KEY (id, time)) PARTITION BY RANGE (time)".format(
                ", ".join(event_column_sql(name) for name in COLUMNS)
            ),
            # As in SQLite: per-message queries, stats and burst re-marks.
            "CREATE INDEX events_message_time ON events (message_id, time)",
        ),
    ),
    Migration(
        30,
        "servers: the shared client salt, events by client",
        (
            # One row: the key of client_key's hash, the same on every server, so that a
            # client's hits on two servers have one key (bursts across servers).
            "CREATE TABLE client_salt (only_row boolean PRIMARY KEY DEFAULT true "
            "CHECK (only_row), salt bytea NOT NULL)",
            # A loader looks up the stored hits of its batch's clients (any server's);
            # its prefix serves the per-message queries the index it replaces did (one
            # index beside the key: each costs every insert).
            "CREATE INDEX events_client ON events (message_id, client_key, time)",
            "DROP INDEX events_message_time",
        ),
    ),
)
