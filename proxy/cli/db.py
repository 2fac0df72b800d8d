"""`trackway db migrate|status`: the PostgreSQL store's schema versions; `trackway
store copy`: a data folder's state into PostgreSQL (issue 14)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from config import Settings
from config.settings import POSTGRES_SCHEMES, redacted_store_url
from proxy.cli.output import CliError, iso_utc
from proxy.data_folder import open_store
from proxy.store.copy import COPY_STEPS, Progress, copy_state
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
    _register_store(commands, common)


def _register_store(commands: Any, common: argparse.ArgumentParser) -> None:
    store = commands.add_parser("store", help="the shared store (PostgreSQL)")
    actions = store.add_subparsers(dest="action", metavar="ACTION", required=True)
    copy = actions.add_parser(
        "copy",
        parents=[common],
        help="copy this data folder's state into PostgreSQL",
        description="Copy the data folder's state (events: its SQLite database and its "
        "spool) into the PostgreSQL database at --to, so that an installation grows into "
        "several servers with its history. Run twice, everything is stored once.",
    )
    copy.add_argument("--to", metavar="URL", required=True, help="postgresql://user:pass@host/db")
    copy.add_argument("--quiet", action="store_true", help="no progress on stderr")
    copy.set_defaults(handler=copy_command)


def copy_command(args: argparse.Namespace, settings: Settings) -> int:
    url = args.to.strip()
    if url.partition("://")[0] not in POSTGRES_SCHEMES:
        raise CliError("--to: a postgresql://user:password@host:port/db URL")
    progress = Progress() if args.quiet else DrawnProgress(sys.stderr)
    print(f"store: copying {settings.data} into PostgreSQL {redacted_store_url(url)}")
    for name, count in copy_state(settings, url, COPY_STEPS, progress):
        print(f"{name}: {count} copied")
    return 0


class DrawnProgress(Progress):
    """A bar redrawn in place on a terminal; elsewhere (a log) a line each tenth."""

    WIDTH = 30

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._shown = -1

    def step(self, name: str) -> None:
        self._shown = -1

    def update(self, name: str, done: int, total: int) -> None:
        percent = 100 * done // total if total else 100
        if self.tty:
            filled = self.WIDTH * percent // 100
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            self.out.write(f"\r{name}: [{bar}] {percent:3d}% {done}/{total}")
        elif percent // 10 > self._shown // 10 or self._shown < 0:
            self.out.write(f"{name}: {percent}% ({done}/{total})\n")
        else:
            return
        self._shown = percent
        self.out.flush()

    def finish(self, name: str, count: int) -> None:
        if self.tty and self._shown >= 0:
            self.out.write("\n")
            self.out.flush()


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
