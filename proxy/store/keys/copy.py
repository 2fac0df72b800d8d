"""A data folder's key ring into PostgreSQL, for `trackway store copy`: links signed by
its keys keep redirecting on every server. Keys the database has (by id and secret) are
left as they are, but for a retirement the folder made first, which the database takes
(so a second copy adds nothing); an id the database holds with another secret refuses
the step (KeyIdTaken: one line naming the key)."""

from __future__ import annotations

import time

from config import Settings
from proxy.store.connection import connect, unavailable_on_errors
from proxy.store.domains.copy import Copied
from proxy.store.domains.store import migrated
from proxy.store.keys.plan import copy_plan
from proxy.store.keys.ring import INSERT_KEY, LOCK_RING, read_shared, retire_shared
from redirector.links.keystore import KEYS_FILE, read_keyring

__all__ = ["copy_keys"]


def copy_keys(settings: Settings, url: str) -> dict[str, Copied]:
    """Counts by table (`signing_keys`): keys added or retired. Idempotent. KeyRingError
    for a damaged file, KeyIdTaken (nothing copied) for an id with another secret."""
    if not (settings.data / KEYS_FILE).exists():
        return {"signing_keys": Copied(0, 0)}
    keys = read_keyring(settings.data).keys
    with unavailable_on_errors(), connect(migrated(url)) as conn, conn.transaction():
        conn.execute(LOCK_RING)
        plan = copy_plan(keys, read_shared(conn))
        for k in plan.add:
            conn.execute(INSERT_KEY, (k.key_id, k.secret, k.created_at, k.retired_at))
        if plan.retire:
            retire_shared(conn, plan.retire, int(time.time()))
        elif plan.add:
            conn.execute("UPDATE state_versions SET version = version + 1 WHERE name = 'keys'")
    return {"signing_keys": Copied(len(keys), len(plan.add) + len(plan.retire))}
