"""`AccountStore` on PostgreSQL: one ACME account key for the cluster, and its
registration per CA directory. The key is made once: of two servers making it at once,
the first stored wins and both use it."""

from __future__ import annotations

from collections.abc import Callable

from proxy.store.certs.database import LazyConnection

__all__ = ["PostgresAccount"]


class PostgresAccount:
    def __init__(self, db: LazyConnection) -> None:
        self.db = db

    def key_pem(self, make: Callable[[], bytes]) -> bytes:
        with self.db.connection() as conn:
            row = conn.execute("SELECT key_pem FROM acme_account_key WHERE id = 1").fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO acme_account_key (id, key_pem) VALUES (1, %s) "
                    "ON CONFLICT (id) DO NOTHING",
                    (make(),),
                )
                row = conn.execute("SELECT key_pem FROM acme_account_key WHERE id = 1").fetchone()
        assert row is not None  # inserted, or there already
        return bytes(row[0])

    def registration(self, directory: str) -> str | None:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT account FROM acme_registrations WHERE directory = %s", (directory,)
            ).fetchone()
        return None if row is None else str(row[0])

    def save_registration(self, directory: str, account_json: str) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO acme_registrations (directory, account) VALUES (%s, %s) "
                "ON CONFLICT (directory) DO UPDATE SET account = EXCLUDED.account",
                (directory, account_json),
            )

    def forget_registration(self, directory: str) -> None:
        with self.db.connection() as conn:
            conn.execute("DELETE FROM acme_registrations WHERE directory = %s", (directory,))
