"""`SharedCertificates` on PostgreSQL: every server's certificates and renewal state,
one row per host, versioned for the mirrors.

A write carries the writer's lease token (`fence`) and is refused (LeaseLost) when the
host's lease has a newer one, checked in the same transaction as the write (the lease
row locked). Writes take the next version under an advisory lock, so that versions
commit in their order and a mirror that read up to N never misses a smaller one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from certs.store import CertState, LeaseLost
from proxy.store.certs.database import LazyConnection

__all__ = ["CERTIFICATES_LOCK", "PostgresCertificates", "SharedRow"]

CERTIFICATES_LOCK = int.from_bytes(b"trackcrt", "big")

_PUT = """
INSERT INTO certificates AS c (host, chain, key, state, fence, version)
VALUES (%(host)s, %(chain)s, %(key)s, %(state)s, %(fence)s, nextval('certificate_versions'))
ON CONFLICT (host) DO UPDATE SET chain = EXCLUDED.chain, key = EXCLUDED.key,
    state = EXCLUDED.state, fence = GREATEST(c.fence, EXCLUDED.fence),
    version = EXCLUDED.version, updated_at = now()
"""
_PUT_STATE = """
INSERT INTO certificates AS c (host, state, fence, version)
VALUES (%(host)s, %(state)s, %(fence)s, nextval('certificate_versions'))
ON CONFLICT (host) DO UPDATE SET state = EXCLUDED.state,
    fence = GREATEST(c.fence, EXCLUDED.fence), version = EXCLUDED.version, updated_at = now()
"""
# A copy from a data folder (no lease): only where the store has no certificate for
# the host, or one that ends sooner.
_PUT_IF_NEWER = (
    _PUT.strip()
    + " WHERE c.chain IS NULL OR (c.state->>'not_after')::float8 < %(not_after)s RETURNING host"
)


@dataclass(frozen=True)
class SharedRow:
    host: str
    chain_pem: bytes | None
    key_pem: bytes | None
    state: CertState
    version: int


class PostgresCertificates:
    def __init__(self, db: LazyConnection) -> None:
        self.db = db

    def put_certificate(
        self, host: str, chain_pem: bytes, key_pem: bytes, state: CertState, fence: int | None
    ) -> None:
        params = _params(state, fence) | {"host": host, "chain": chain_pem, "key": key_pem}
        self._write(host, fence, _PUT, params)

    def put_state(self, state: CertState, fence: int | None) -> None:
        self._write(state.host, fence, _PUT_STATE, _params(state, fence))

    def put_if_newer(self, host: str, chain_pem: bytes, key_pem: bytes, state: CertState) -> bool:
        """Without a lease: stored only over nothing or a certificate that ends sooner."""
        params = _params(state, None) | {
            "host": host,
            "chain": chain_pem,
            "key": key_pem,
            "not_after": state.not_after,
        }
        with self.db.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (CERTIFICATES_LOCK,))
            return conn.execute(_PUT_IF_NEWER, params).fetchone() is not None

    def _write(self, host: str, fence: int | None, sql: str, params: dict[str, Any]) -> None:
        with self.db.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (CERTIFICATES_LOCK,))
            if fence is not None:
                _check_fence(conn, host, fence)
            conn.execute(sql, params)

    def get(self, host: str) -> tuple[bytes | None, bytes | None, CertState] | None:
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT host, chain, key, state, version FROM certificates WHERE host = %s",
                (host,),
            ).fetchone()
        if row is None:
            return None
        shared = _shared_row(row)
        return shared.chain_pem, shared.key_pem, shared.state

    def changes(self, after: int) -> list[SharedRow]:
        """The rows written since version `after`, in version order."""
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT host, chain, key, state, version FROM certificates "
                "WHERE version > %s ORDER BY version",
                (after,),
            ).fetchall()
        return [_shared_row(row) for row in rows]

    def close(self) -> None:
        self.db.close()


def _check_fence(conn: psycopg.Connection[Any], host: str, fence: int) -> None:
    lease = conn.execute("SELECT token FROM leases WHERE name = %s FOR SHARE", (host,)).fetchone()
    written = conn.execute("SELECT fence FROM certificates WHERE host = %s", (host,)).fetchone()
    newest = max(int(lease[0]) if lease else 0, int(written[0]) if written else 0)
    if newest > fence:
        raise LeaseLost(f"{host}: lease {fence} is older than lease {newest}; write refused")


def _params(state: CertState, fence: int | None) -> dict[str, Any]:
    return {"host": state.host, "state": Jsonb(state.as_dict()), "fence": fence or 0}


def _shared_row(row: tuple[Any, ...]) -> SharedRow:
    host, chain, key, state, version = row
    doc = state if isinstance(state, dict) else json.loads(state)
    known = {f.name for f in fields(CertState)}  # a newer server's fields: left out
    doc = {k: v for k, v in doc.items() if k in known} | {"host": str(host)}
    return SharedRow(
        str(host),
        None if chain is None else bytes(chain),
        None if key is None else bytes(key),
        CertState(**doc),
        int(version),
    )
