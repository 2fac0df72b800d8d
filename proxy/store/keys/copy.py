"""A data folder's key ring into PostgreSQL, for `trackway store copy`: links signed by
its keys keep redirecting on every server. Keys the database has (by id) are left as
they are, so a second copy adds nothing."""

from __future__ import annotations

from config import Settings
from proxy.store.connection import connect, unavailable_on_errors
from proxy.store.domains.copy import Copied
from proxy.store.domains.store import migrated
from proxy.store.keys.ring import INSERT_KEY
from redirector.links.keystore import KEYS_FILE, read_keyring

__all__ = ["copy_keys"]


def copy_keys(settings: Settings, url: str) -> dict[str, Copied]:
    """Counts by table (`signing_keys`). Idempotent. KeyRingError for a damaged file."""
    if not (settings.data / KEYS_FILE).exists():
        return {"signing_keys": Copied(0, 0)}
    keys = read_keyring(settings.data).keys
    with unavailable_on_errors(), connect(migrated(url)) as conn, conn.transaction():
        added = sum(
            conn.execute(INSERT_KEY, (k.key_id, k.secret, k.created_at, k.retired_at)).rowcount
            for k in keys
        )
        if added:
            conn.execute("UPDATE state_versions SET version = version + 1 WHERE name = 'keys'")
    return {"signing_keys": Copied(len(keys), added)}
