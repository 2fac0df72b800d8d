"""Applying the schema's versions (`migrations`) and saying which are applied.

Every server applies them as it starts, and `trackway db migrate` does: under a
session advisory lock, so that of several starting at once one applies each version
and the others wait for it, then find nothing left to do. Each version commits with
its row in `schema_migrations`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from proxy.store.connection import connect, unavailable_on_errors
from proxy.store.migrations import MIGRATIONS, Migration, event_column_sql
from redirector.recording.events import COLUMN_DEFAULTS, COLUMNS

__all__ = ["SCHEMA_LOCK", "MigrationState", "apply_migrations", "migration_states"]

SCHEMA_LOCK = int.from_bytes(b"trackway", "big")  # the advisory lock's key: b"trackway"
_CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
    "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
)


@dataclass(frozen=True)
class MigrationState:
    version: int
    name: str
    applied_at: datetime | None  # None: pending

    def as_dict(self) -> dict[str, Any]:
        applied = self.applied_at.isoformat() if self.applied_at else None
        return {"version": self.version, "name": self.name, "applied_at": applied}


def apply_migrations(url: str) -> list[int]:
    """The versions this call applied (none when another process did them first)."""
    with unavailable_on_errors(), connect(url) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            conn.execute(_CREATE_TABLE)
            done = _applied(conn)
            applied = []
            # Every version not applied, in order of version: not only those above the
            # highest applied (versions are numbered in ranges by area, 10.., 20.., 30..,
            # so a database may have a later one before an earlier one is released).
            for migration in _in_order():
                if migration.version not in done:
                    _apply(conn, migration)
                    applied.append(migration.version)
            _add_event_columns(conn)
            return applied
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def migration_states(url: str) -> list[MigrationState]:
    """Every known version, applied or pending (changes nothing)."""
    with unavailable_on_errors(), connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
        rows: dict[int, datetime] = {}
        if exists and exists[0] is not None:
            for version, applied_at in conn.execute(
                "SELECT version, applied_at FROM schema_migrations"
            ):
                rows[int(version)] = applied_at
    return [MigrationState(m.version, m.name, rows.get(m.version)) for m in _in_order()]


def _in_order() -> list[Migration]:
    return sorted(MIGRATIONS, key=lambda m: m.version)


def _applied(conn: psycopg.Connection[Any]) -> set[int]:
    return {int(row[0]) for row in conn.execute("SELECT version FROM schema_migrations")}


def _apply(conn: psycopg.Connection[Any], migration: Migration) -> None:
    with conn.transaction():
        # A version may build an index over a big events table: longer than a statement
        # may take otherwise. The other servers wait for the schema lock, each bounded.
        conn.execute("SET LOCAL statement_timeout = 0")
        for statement in migration.statements:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
            (migration.version, migration.name),
        )


def _add_event_columns(conn: psycopg.Connection[Any]) -> None:
    """Columns of `Event` fields newer than the table."""
    present = {
        str(row[0])
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'events'"
        )
    }
    for name in COLUMNS:
        if name not in present:
            default = COLUMN_DEFAULTS.get(name)
            if default is None:  # nullable: NULL in older rows
                column = event_column_sql(name).removesuffix(" NOT NULL")
            else:  # older rows read as the field's default, as in SQLite
                column = f"{event_column_sql(name)} DEFAULT {_literal(default)}"
            conn.execute(f"ALTER TABLE events ADD COLUMN IF NOT EXISTS {column}")


def _literal(value: str | int | float) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)
