"""`Challenges` on PostgreSQL: the answers one server publishes while it orders, read
by whichever server the CA's validation reaches (HTTP-01 by the workers' handler, in
their thread pool; TLS-ALPN-01 by the TLS listener before the handshake)."""

from __future__ import annotations

from certs.challenges import is_token
from proxy.store.certs.database import LazyConnection

__all__ = ["PostgresChallenges"]


class PostgresChallenges:
    def __init__(self, db: LazyConnection) -> None:
        self.db = db

    def publish(self, token: str, key_authorization: str) -> None:
        if not is_token(token):
            raise ValueError("not an ACME token")
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO acme_challenges (token, key_authorization) VALUES (%s, %s) "
                "ON CONFLICT (token) DO UPDATE SET key_authorization = EXCLUDED.key_authorization",
                (token, key_authorization),
            )

    def withdraw(self, token: str) -> None:
        with self.db.connection() as conn:
            conn.execute("DELETE FROM acme_challenges WHERE token = %s", (token,))

    def response(self, token: str) -> str | None:
        if not is_token(token):
            return None
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT key_authorization FROM acme_challenges WHERE token = %s", (token,)
            ).fetchone()
        return None if row is None else str(row[0])

    def publish_tls_alpn(self, host: str, cert_pem: bytes, key_pem: bytes) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "INSERT INTO acme_tls_alpn (host, cert_pem, key_pem) VALUES (%s, %s, %s) "
                "ON CONFLICT (host) DO UPDATE SET cert_pem = EXCLUDED.cert_pem, "
                "key_pem = EXCLUDED.key_pem, created_at = now()",
                (host, cert_pem, key_pem),
            )

    def withdraw_tls_alpn(self, host: str) -> None:
        with self.db.connection() as conn:
            conn.execute("DELETE FROM acme_tls_alpn WHERE host = %s", (host,))

    def close(self) -> None:
        self.db.close()

    def tls_alpn_certificate(self, host: str) -> tuple[bytes, bytes] | None:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT cert_pem, key_pem FROM acme_tls_alpn WHERE host = %s", (host,)
            ).fetchone()
        return None if row is None else (bytes(row[0]), bytes(row[1]))
