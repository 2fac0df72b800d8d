"""`trackway db migrate|status`: the PostgreSQL store's schema versions (issue 14)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from config import Settings
from config.settings import redacted_store_url
from proxy.cli.output import iso_utc
from proxy.data_folder import open_store
from proxy.store.migrate import MigrationState, apply_migrations, migration_states
from redirector.recording.event_store import DATABASE_FILE

__all__ = ["register"]


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    db = commands.add_parser(
        "db",
        help="the store's schema",
        description="The schema of the store: PostgreSQL when [store] url (or "
        "$TRACKWAY_STORE_URL) is set, else SQLite in the data folder.",
    )
    actions = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    migrate = actions.add_parser(
        "migrate",
        parents=[common],
        help="apply the pending schema versions",
        description="Apply the schema versions not applied yet (every server also does "
        "when it starts; several at once apply each version once).",
    )
    migrate.set_defaults(handler=migrate_command)
    status = actions.add_parser(
        "status",
        parents=[common],
        help="list applied and pending schema versions",
        description="List the schema versions, applied (when) or pending.",
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=status_command)


def _sqlite_line(settings: Settings) -> str:
    return (
        f"store: SQLite ({settings.data / DATABASE_FILE}): its schema is made as it opens; "
        "versioned migrations are for PostgreSQL ([store] url)"
    )


def migrate_command(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.store.url:
        open_store(settings).close()
        print(_sqlite_line(settings))
        return 0
    print(f"store: PostgreSQL {redacted_store_url(settings.store.url)}")
    applied = apply_migrations(settings.store.url)
    print(f"applied: {' '.join(map(str, applied))}" if applied else "applied: none (up to date)")
    return 0


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    url = settings.store.url
    states = migration_states(url) if url else []
    if args.json:
        doc = {
            "store": "postgresql" if url else "sqlite",
            "url": redacted_store_url(url) if url else None,
            "migrations": [s.as_dict() for s in states],
            "pending": [s.version for s in states if s.applied_at is None],
        }
        print(json.dumps(doc, indent=2))
        return 0
    if not url:
        print(_sqlite_line(settings))
        return 0
    print(f"store: PostgreSQL {redacted_store_url(url)}")
    for state in states:
        print(_state_line(state))
    pending = [str(s.version) for s in states if s.applied_at is None]
    print(f"pending: {' '.join(pending)}" if pending else "pending: none")
    return 0


def _state_line(state: MigrationState) -> str:
    when = iso_utc(state.applied_at.timestamp()) if state.applied_at else "pending"
    return f"{state.version:>4}  {when:<20}  {state.name}"
