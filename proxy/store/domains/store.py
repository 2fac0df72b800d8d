"""The PostgreSQL `DomainStore`: sending domains and tracking hosts of every server.

The tables have domains.db's columns (`proxy.domains.store`, whose row forms both
backends use). Each write bumps the `domains` row of `state_versions` in its own
transaction, so `version()` moves on every server for a change made on any: the
workers' live routes and the certificate maintenance read again within seconds.

The domain checks' secret is shared too: a check made by one server (its request for
the host's check path) may be answered by any other. The first server's check-secret
goes into the database; every server's file is then the database's (`share_check_secret`,
once a process, as a store is opened with its data folder).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from config.datafolder import write_private_file
from proxy.domains.service import CHECK_SECRET_FILE, check_secret
from proxy.domains.store import (
    DOMAIN_CHECK,
    HOST_CHECK,
    AppLinks,
    CheckColumns,
    SendingDomain,
    TrackingHost,
    domain_from_row,
    host_from_row,
    host_row,
)
from proxy.store.connection import SingleConnection, unavailable_on_errors
from proxy.store.migrate import apply_migrations

__all__ = ["PostgresDomainStore", "migrated", "share_check_secret"]

_DOMAIN_COLUMNS = ("name", "token", "verified", "created_at", "verified_at", "last_error")
_HOST_COLUMNS = (
    "host", "sending_domain", "region", "created_at", "checks", "status", "checked_at",
    "mode", "upstream", "host_header",
)  # fmt: skip
_BUMP = "UPDATE state_versions SET version = version + 1 WHERE name = 'domains'"


def _upsert(table: str, columns: Sequence[str]) -> str:
    key, rest = columns[0], columns[1:]
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT ({key}) DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in rest)
    )


_PUT_DOMAIN = _upsert("sending_domains", _DOMAIN_COLUMNS)
_PUT_HOST = _upsert("tracking_hosts", _HOST_COLUMNS)
_HOSTS = "SELECT * FROM tracking_hosts {} ORDER BY created_at, host"

_migrated: set[str] = set()
_migrating = threading.Lock()
_shared: set[tuple[str, Path]] = set()  # (url, data folder) whose check secret is shared


def migrated(url: str) -> str:
    """`url`, its schema migrated once in this process (a store is opened per command
    and per admin request: the advisory lock and the look at every version, once)."""
    with _migrating:
        if url not in _migrated:
            apply_migrations(url)
            _migrated.add(url)
    return url


class PostgresDomainStore:
    """One connection (one thread at a time, as SQLite's); StoreUnavailable, from the
    constructor or any call, when the database cannot be used. Its caller opens a new
    store after a failure (the connection may be gone with a restart of the database)."""

    def __init__(self, url: str, data: Path | None = None) -> None:
        """`data`: the data folder whose check secret is the database's from now on."""
        self._db = SingleConnection(migrated(url))
        if data is not None and (url, data) not in _shared:
            try:
                with unavailable_on_errors(), self._db.connection() as conn:
                    share_check_secret(conn, data)
            except BaseException:
                self.close()
                raise
            _shared.add((url, data))

    def close(self) -> None:
        self._db.close()

    def version(self) -> int:
        row = self._one("SELECT version FROM state_versions WHERE name = 'domains'", ())
        return 0 if row is None else int(row["version"])

    def identity(self) -> str:
        """The database's own (made once, at random): what a mirror records."""
        row = self._one("SELECT id FROM store_identity", ())
        assert row is not None  # made with its table
        return str(row["id"])

    def domain(self, name: str) -> SendingDomain | None:
        row = self._one("SELECT * FROM sending_domains WHERE name = %s", (name,))
        return None if row is None else domain_from_row(row)

    def domains(self) -> list[SendingDomain]:
        rows = self._all("SELECT * FROM sending_domains ORDER BY name", ())
        return [domain_from_row(r) for r in rows]

    def put_domain(self, domain: SendingDomain) -> None:
        row = domain.__dict__
        self._write((_PUT_DOMAIN, tuple(row[c] for c in _DOMAIN_COLUMNS)))

    def host(self, host: str) -> TrackingHost | None:
        row = self._one("SELECT * FROM tracking_hosts WHERE host = %s", (host,))
        return None if row is None else host_from_row(row)

    def hosts(self, sending_domain: str | None = None) -> list[TrackingHost]:
        if sending_domain is None:
            rows = self._all(_HOSTS.format(""), ())
        else:
            rows = self._all(_HOSTS.format("WHERE sending_domain = %s"), (sending_domain,))
        return [host_from_row(r) for r in rows]

    def put_host(self, host: TrackingHost) -> None:
        row = host_row(host)
        self._write((_PUT_HOST, tuple(row[c] for c in _HOST_COLUMNS)))

    def put_app_links(self, host: str, links: AppLinks) -> None:
        self._write(
            (
                "UPDATE tracking_hosts SET apple_app_site_association = %s, assetlinks = %s "
                "WHERE host = %s",
                (links.apple, links.android, host),
            )
        )

    def record_domain_check(self, domain: SendingDomain) -> bool:
        return self._record(DOMAIN_CHECK, domain.__dict__)

    def record_host_check(self, host: TrackingHost) -> bool:
        return self._record(HOST_CHECK, host_row(host))

    def _record(self, columns: CheckColumns, row: dict[str, Any]) -> bool:
        sql = columns.update_sql("%s", "IS NOT DISTINCT FROM")
        with unavailable_on_errors(), self._db.connection() as conn, conn.transaction():
            done = conn.execute(sql, columns.values(row)).rowcount > 0
            if done:
                conn.execute(_BUMP)
        return done

    def remove_host(self, host: str) -> None:
        self._write(("DELETE FROM tracking_hosts WHERE host = %s", (host,)))

    def remove_domain(self, name: str) -> None:
        self._write(
            ("DELETE FROM tracking_hosts WHERE sending_domain = %s", (name,)),
            ("DELETE FROM sending_domains WHERE name = %s", (name,)),
        )

    def _write(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        with unavailable_on_errors(), self._db.connection() as conn, conn.transaction():
            for sql, params in statements:
                conn.execute(sql, params)
            conn.execute(_BUMP)

    def _all(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with unavailable_on_errors(), self._db.connection() as conn:
            return conn.cursor(row_factory=dict_row).execute(sql, params).fetchall()

    def _one(self, sql: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None


def share_check_secret(conn: psycopg.Connection[Any], data: Path) -> None:
    """The database's check secret in `data`'s check-secret file (the database taking
    this one when it has none)."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO shared_secrets (name, value) VALUES ('check', %s) ON CONFLICT DO NOTHING",
            (check_secret(data),),
        )
        row = conn.execute("SELECT value FROM shared_secrets WHERE name = 'check'").fetchone()
    shared = bytes(row[0]) if row else b""
    if shared and shared != check_secret(data):
        write_private_file(data / CHECK_SECRET_FILE, shared)
