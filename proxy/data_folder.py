"""The secrets and stores `serve` and the CLI open from the data folder."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from config import Settings
from config.datafolder import DataFolderError, ensure_data_dir, read_or_create_secret
from proxy.store.event_store import PostgresEventStore
from redirector.recording.bot_rules import BurstPolicy
from redirector.recording.event_store import DATABASE_FILE, EventStore, SqliteEventStore
from redirector.recording.hits import event_from_hit
from redirector.recording.spool import Spool
from redirector.recording.spool_loader import SpoolLoader

ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not the token
CLIENT_SALT_FILE = "client-salt"


def admin_token(data: Path) -> str:
    """The admin API's bearer token, made on first use. A file that holds none (empty:
    any `Bearer ` would match it) is refused: the API is never open to all."""
    path = data / ADMIN_TOKEN_FILE
    raw = read_or_create_secret(path, lambda: (secrets.token_urlsafe(32) + "\n").encode())
    why = "not ASCII text" if not raw.isascii() else "it is empty" if not raw.strip() else ""
    if why:
        raise DataFolderError(
            f"{path} holds no admin token ({why}): delete it, and a new one is made"
        )
    return raw.decode("ascii").strip()


def client_salt(data: Path) -> bytes:
    return read_or_create_secret(data / CLIENT_SALT_FILE, lambda: secrets.token_bytes(32))


def open_store(settings: Settings, pooled: bool = False) -> EventStore:
    """The event store the settings name: PostgreSQL (`[store] url`, its schema migrated
    first; `pooled` for a long-lived reader) or the data folder's SQLite database."""
    if settings.store.url:
        return PostgresEventStore(
            settings.store.url,
            retention_days=settings.store.retention_days,
            pool_size=2 if pooled else 0,
        )
    ensure_data_dir(settings.data)
    return SqliteEventStore(
        settings.data / DATABASE_FILE,
        synchronous=settings.store.synchronous,
        busy_timeout_ms=settings.store.busy_timeout_ms,
    )


def open_loader(
    settings: Settings, open_event_store: Callable[[], EventStore] | None = None
) -> SpoolLoader:
    """The loader of the data folder's spool into its database (`open_event_store`)."""
    return SpoolLoader(
        open_event_store or (lambda: open_store(settings)),
        open_spool(settings),
        BurstPolicy(settings.clicks.burst_links, settings.clicks.burst_seconds),
        settings.store.spool_retry_seconds,
    )


def open_spool(settings: Settings, sync: bool = True) -> Spool:
    """The data folder's spool, turning spooled hits into events by these settings."""
    salt = client_salt(settings.data)
    return Spool(settings.data, sync, lambda hit: event_from_hit(hit, settings.clicks, salt))
