"""The key ring as the settings choose it: the data folder's keys.json, or with `[store]
url` the database's `signing_keys`, of which keys.json is then this server's mirror.

Every reader of the ring (the workers, `rewrite`, `links`, `keys list`) reads keys.json,
as without a database; with one, a command first pulls the database's ring into it (and
`serve` keeps it in step: `sync`), and `keys rotate|retire` change the database first,
then the mirror. The first server on an empty database seeds it with its ring; a server
whose keys.json holds keys the database lacks adopts the database's ring, its own file
kept aside as keys.json.local-<time> (copied, then keys.json replaced, under the ring's
lock). A key retired here first (a leak, retired while this server ran without the
database) is retired in the database too: a retirement never goes back. The database
down: the mirror as it is, said once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from config import Settings
from proxy.store.connection import connect, unavailable_on_errors
from proxy.store.domains.store import migrated
from proxy.store.keys.plan import in_order, mirror_plan
from redirector.links.errors import KeyRingError
from redirector.links.keyring import KeyRing, SigningKey
from redirector.links.keystore import (
    KEYS_FILE,
    load_keyring,
    read_keyring,
    retire_key,
    rotate_key,
    with_new_key,
    with_retired_key,
    write_keyring,
)
from redirector.recording.event_store import StoreUnavailable

__all__ = [
    "current_keyring",
    "pull_with",
    "read_shared",
    "retire",
    "retire_shared",
    "rotate",
    "shared_version",
]

log = logging.getLogger("trackway.keys")
LOCK_RING = "SELECT version FROM state_versions WHERE name = 'keys' FOR UPDATE"
_BUMP = "UPDATE state_versions SET version = version + 1 WHERE name = 'keys'"
_KEYS = "SELECT id, secret, created_at, retired_at FROM signing_keys"
# The earliest retirement wins: one made later (or none) never replaces it.
_RETIRE = (
    "UPDATE signing_keys SET retired_at = %s WHERE id = %s "
    "AND (retired_at IS NULL OR retired_at > %s)"
)
INSERT_KEY = (
    "INSERT INTO signing_keys (id, secret, created_at, retired_at) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (id) DO NOTHING"
)


def current_keyring(settings: Settings, now: int) -> KeyRing:
    """The ring to sign and verify with now (made on first use). With a database that
    cannot be reached: the mirror, and a warning saying so."""
    if settings.store.url:
        try:
            with _connection(settings.store.url) as conn:
                pull_with(conn, settings.data, now)
        except StoreUnavailable as e:
            log.warning("key ring: %s; using %s as it is", e, settings.data / KEYS_FILE)
    return load_keyring(settings.data, now)


def rotate(settings: Settings, now: int) -> SigningKey:
    """A new signing key, in the database first (every server signs with it within
    seconds), then in the mirror."""
    if not settings.store.url:
        return rotate_key(settings.data, now)
    with _connection(settings.store.url) as conn:
        pull_with(conn, settings.data, now)  # an empty database seeded first
        with unavailable_on_errors(), conn.transaction():
            conn.execute(LOCK_RING)
            keys, key = with_new_key(read_shared(conn), now)
            conn.execute(INSERT_KEY, _values(key))
            conn.execute(_BUMP)
    write_keyring(settings.data, in_order(keys))
    return key


def retire(settings: Settings, key_id: str, now: int) -> SigningKey:
    """`key_id` retired in the database first (every server refuses its links within
    seconds), then in the mirror."""
    if not settings.store.url:
        return retire_key(settings.data, key_id, now)
    with _connection(settings.store.url) as conn:
        pull_with(conn, settings.data, now)
        with unavailable_on_errors(), conn.transaction():
            conn.execute(LOCK_RING)
            keys, retired = with_retired_key(KeyRing(read_shared(conn)), key_id, now)
            conn.execute(
                "UPDATE signing_keys SET retired_at = %s WHERE id = %s",
                (retired.retired_at, retired.key_id),
            )
            conn.execute(_BUMP)
    write_keyring(settings.data, in_order(keys))
    return retired


def shared_version(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT version FROM state_versions WHERE name = 'keys'").fetchone()
    return 0 if row is None else int(row[0])


def read_shared(conn: psycopg.Connection[Any]) -> list[SigningKey]:
    rows = conn.execute(_KEYS).fetchall()
    return list(in_order([SigningKey(r[0], bytes(r[1]), r[2], r[3]) for r in rows]))


def pull_with(conn: psycopg.Connection[Any], data: Path, now: int) -> int:
    """The database's ring into keys.json (or, the database having none, this server's
    ring into the database), in one transaction that holds the ring's row: two servers
    starting on an empty database seed it once. The version pulled."""
    with unavailable_on_errors(), conn.transaction():
        row = conn.execute(LOCK_RING).fetchone()
        version = 0 if row is None else int(row[0])
        shared = read_shared(conn)
        local, unreadable = _local(data)
        plan = mirror_plan(local, shared)
        if plan.seed:
            ring = load_keyring(data, now)  # made here if this server has none either
            for key in ring.keys:
                conn.execute(INSERT_KEY, _values(key))
            conn.execute(_BUMP)
            log.info(
                "key ring: the database had none; it has this server's %d keys", len(ring.keys)
            )
            return version + 1
        if plan.retire:
            shared = retire_shared(conn, plan.retire, now)
            version += 1
        if plan.keep_local or unreadable:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
            kept = write_keyring(data, shared, keep_aside=f"local-{stamp}")
            log.warning(
                "key ring: adopted the database's (%d keys); this server's own is kept as %s",
                len(shared),
                kept,
            )
        elif plan.write or plan.retire:
            write_keyring(data, shared)
        return version


def retire_shared(
    conn: psycopg.Connection[Any], retired: Sequence[SigningKey], now: int
) -> list[SigningKey]:
    """Keys retired on this server first (a leak, retired while it ran without the
    database), retired in the database too, at the earliest time: a retirement never
    goes back. With no active key left there, a new one signs. The database's ring now."""
    for key in retired:
        conn.execute(_RETIRE, (key.retired_at, key.key_id, key.retired_at))
    shared = read_shared(conn)
    log.warning(
        "key ring: %s retired on this server first; retired in the database too",
        ", ".join(k.key_id for k in retired),
    )
    if all(k.retired for k in shared):
        shared, key = with_new_key(shared, now)
        conn.execute(INSERT_KEY, _values(key))
        log.warning("key ring: no active key was left; the new key %s signs", key.key_id)
    conn.execute(_BUMP)
    return list(in_order(shared))


def _local(data: Path) -> tuple[list[SigningKey] | None, bool]:
    """keys.json's keys (None: no file), and whether it is there but unreadable."""
    if not (data / KEYS_FILE).exists():
        return None, False
    try:
        return list(read_keyring(data).keys), False
    except KeyRingError:
        return None, True


def _values(key: SigningKey) -> tuple[str, bytes, int, int | None]:
    return (key.key_id, key.secret, key.created_at, key.retired_at)


def _connection(url: str) -> psycopg.Connection[Any]:
    return connect(migrated(url))
