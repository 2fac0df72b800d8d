"""The client salt shared by the servers of one database: the key of `client_key`'s
hash, so that a client's hits on two servers have one key and their bursts are found.

The first server (or `store copy` of an existing data folder) puts its own; every
server then keeps the database's in its data folder's file, which its loader uses.
"""

from __future__ import annotations

from proxy.store.connection import connect, unavailable_on_errors

__all__ = ["shared_client_salt"]


def shared_client_salt(url: str, local: bytes) -> bytes:
    """The database's salt; `local` becomes it when it has none yet. StoreUnavailable
    if the database cannot say (its schema is migrated by the caller first)."""
    with unavailable_on_errors(), connect(url) as conn:
        conn.execute("INSERT INTO client_salt (salt) VALUES (%s) ON CONFLICT DO NOTHING", (local,))
        row = conn.execute("SELECT salt FROM client_salt").fetchone()
    assert row is not None  # inserted above if there was none
    return bytes(row[0])
