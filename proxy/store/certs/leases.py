"""`Leases` on PostgreSQL: one row per name (holder, expiry, fencing token), for every
server of a cluster. Each call is one statement or one short transaction; the row is
locked while it is decided, so two servers never both take a name.

Expiries are set and compared by the database's clock, the one clock every server
shares: the `now` a server hands in is not used here (a server whose clock runs an hour
ahead would otherwise take a live lease, and one behind would write a lease that has
expired already)."""

from __future__ import annotations

from certs.lease import new_holder
from proxy.store.certs.database import LazyConnection

__all__ = ["PostgresLeases"]

_NOW = "extract(epoch from clock_timestamp())::float8"
# A new row takes token 1; an existing one, free or expired, goes to the next token
# and the new holder. A live lease of another holder is left alone (nothing returned);
# our own live one is renewed with its token.
_ACQUIRE = f"""
INSERT INTO leases AS l (name, holder, expires, token)
VALUES (%(name)s, %(holder)s, {_NOW} + %(seconds)s, 1)
ON CONFLICT (name) DO UPDATE SET
    holder = EXCLUDED.holder,
    expires = EXCLUDED.expires,
    token = CASE WHEN l.holder = EXCLUDED.holder AND l.expires > {_NOW}
        THEN l.token ELSE l.token + 1 END
WHERE l.holder = EXCLUDED.holder OR l.expires <= {_NOW}
RETURNING token
"""
_RENEW = f"""
UPDATE leases SET expires = {_NOW} + %(seconds)s
WHERE name = %(name)s AND holder = %(holder)s AND token = %(token)s
"""


class PostgresLeases:
    def __init__(self, db: LazyConnection) -> None:
        self.db = db
        self.holder = new_holder()

    def acquire(self, name: str, now: float, seconds: float) -> int | None:
        """As `Leases.acquire`, by the database's clock (`now` unused)."""
        params = {"name": name, "holder": self.holder, "seconds": seconds}
        with self.db.connection() as conn:
            row = conn.execute(_ACQUIRE, params).fetchone()
        return None if row is None else int(row[0])

    def renew(self, name: str, token: int, now: float, seconds: float) -> bool:
        """As `Leases.renew`: `seconds` from the database's clock (`now` unused)."""
        params = {"name": name, "holder": self.holder, "token": token, "seconds": seconds}
        with self.db.connection() as conn:
            changed = conn.execute(_RENEW, params).rowcount
        return changed == 1

    def release(self, name: str, token: int) -> None:
        with self.db.connection() as conn:
            conn.execute(
                "UPDATE leases SET expires = 0 WHERE name = %s AND holder = %s AND token = %s",
                (name, self.holder, token),
            )

    def close(self) -> None:
        self.db.close()
