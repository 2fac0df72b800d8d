"""The secrets and stores `serve` and the CLI open from the data folder."""

from __future__ import annotations

import secrets
from pathlib import Path

from config import Settings
from config.datafolder import ensure_data_dir, read_or_create_secret
from redirector.event_store import DATABASE_FILE, SqliteEventStore

ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not the token
CLIENT_SALT_FILE = "client-salt"


def admin_token(data: Path) -> str:
    raw = read_or_create_secret(
        data / ADMIN_TOKEN_FILE, lambda: (secrets.token_urlsafe(32) + "\n").encode()
    )
    return raw.decode("ascii").strip()


def client_salt(data: Path) -> bytes:
    return read_or_create_secret(data / CLIENT_SALT_FILE, lambda: secrets.token_bytes(32))


def open_store(settings: Settings) -> SqliteEventStore:
    ensure_data_dir(settings.data)
    return SqliteEventStore(
        settings.data / DATABASE_FILE,
        synchronous=settings.store.synchronous,
        busy_timeout_ms=settings.store.busy_timeout_ms,
    )
