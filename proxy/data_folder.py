"""The secrets and stores `serve` and the CLI open from the data folder."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from config import Settings
from config.datafolder import (
    DataFolderError,
    ensure_data_dir,
    read_or_create_secret,
    write_private_file,
)
from proxy.store.client_salt import shared_client_salt
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


def share_client_salt(settings: Settings) -> bytes:
    """With `[store] url`: the database's salt, kept in the data folder's file (the one
    the loader reads; a mirror, so the loader needs no database to start). Without, or
    StoreUnavailable (the caller says so and keeps the file's): the file's."""
    local = client_salt(settings.data)
    if not settings.store.url:
        return local
    shared = shared_client_salt(settings.store.url, local)
    if shared != local:
        write_private_file(settings.data / CLIENT_SALT_FILE, shared)
    return shared


def open_store(settings: Settings, pooled: bool = False) -> EventStore:
    """The event store the settings name: PostgreSQL (`[store] url`, its schema migrated
    first; `pooled` for a long-lived reader) or the data folder's SQLite database."""
    if settings.store.url:
        return PostgresEventStore(
            settings.store.url,
            retention_days=settings.store.retention_days,
            pool_size=2 if pooled else 0,
            burst=burst_policy(settings),
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
    """The loader of the data folder's spool into its database (`open_event_store`).
    With `[store] url`, each time it opens the database it takes the servers' shared
    client salt (a server started while the database was down has its own till then)."""
    salt = [client_salt(settings.data)]

    def open_shared() -> EventStore:
        store = open_store(settings)
        try:
            salt[0] = share_client_salt(settings)
        except BaseException:
            store.close()
            raise
        return store

    spool = Spool(settings.data, True, lambda hit: event_from_hit(hit, settings.clicks, salt[0]))
    opener = open_event_store or (open_shared if settings.store.url else None)
    return SpoolLoader(
        opener or (lambda: open_store(settings)),
        spool,
        burst_policy(settings),
        settings.store.spool_retry_seconds,
    )


def burst_policy(settings: Settings) -> BurstPolicy:
    return BurstPolicy(settings.clicks.burst_links, settings.clicks.burst_seconds)


def open_spool(settings: Settings, sync: bool = True) -> Spool:
    """The data folder's spool, turning spooled hits into events by these settings."""
    salt = client_salt(settings.data)
    return Spool(settings.data, sync, lambda hit: event_from_hit(hit, settings.clicks, salt))
