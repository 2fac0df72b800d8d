"""Sending domains and tracking hosts: `DomainStore`, kept in `domains.db` in the data
folder (`SqliteDomainStore`) or, with `[store] url`, in PostgreSQL for every server
(`proxy.store.domains`); `open_domain_store` opens the one the settings name.

A host's last checks and status are typed objects here and JSON only in the database;
its app-link files (`AppLinks`) are two columns of JSON text, as served. The rows'
forms (`host_row`, `host_from_row`, …) are here for both backends.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import sqlite_utils

from config import Settings
from config.datafolder import create_private_file, ensure_data_dir, file_lock
from proxy.domains.status import HostChecks, HostStatus, host_status
from proxy.upstream.route import UpstreamRoute, parse_upstream

__all__ = [
    "DOMAINS_FILE",
    "DOMAIN_CHECK",
    "HOST_CHECK",
    "NO_APP_LINKS",
    "PROXY",
    "REDIRECT",
    "AppLinks",
    "CheckColumns",
    "DomainStore",
    "SendingDomain",
    "SqliteDomainStore",
    "TrackingHost",
    "domain_from_row",
    "host_from_row",
    "host_row",
    "open_domain_store",
]

DOMAINS_FILE = "domains.db"
REDIRECT, PROXY = "redirect", "proxy"  # a tracking host's modes
# Columns added after the first release: added to an older `domains.db` on open, its
# rows taking the default (every host of an older release is in redirect mode).
_ADDED_HOST_COLUMNS = (
    ("mode", REDIRECT),
    ("upstream", None),
    ("host_header", "custom"),
    ("apple_app_site_association", None),
    ("assetlinks", None),
)


class CheckColumns(NamedTuple):
    """Where a check writes its results (`results`), and the columns of the row it made
    them for (`made_for`): the results go only onto that row as it was, never onto one
    removed, added again, or put in another mode meanwhile, and nothing else is written."""

    table: str
    key: str
    results: tuple[str, ...]
    made_for: tuple[str, ...]

    def update_sql(self, mark: str, same: str) -> str:
        """The UPDATE, in a backend's placeholder (`mark`) and null-safe equality."""
        sets = ", ".join(f"{c} = {mark}" for c in self.results)
        kept = "".join(f" AND {c} {same} {mark}" for c in self.made_for)
        return f"UPDATE {self.table} SET {sets} WHERE {self.key} = {mark}{kept}"

    def values(self, row: dict[str, Any]) -> tuple[Any, ...]:  # in `update_sql`'s order
        return tuple(row[c] for c in (*self.results, self.key, *self.made_for))


DOMAIN_CHECK = CheckColumns(
    "sending_domains", "name", ("verified", "verified_at", "last_error"), ("token", "created_at")
)
HOST_CHECK = CheckColumns(
    "tracking_hosts", "host", ("checks", "status", "checked_at"),
    ("sending_domain", "region", "created_at", "mode", "upstream", "host_header"),
)  # fmt: skip


class AppLinks(NamedTuple):
    """A tracking host's app-link files, as served (validated JSON text, `app_links`);
    None: not set."""

    apple: str | None = None  # apple-app-site-association (iOS universal links)
    android: str | None = None  # assetlinks.json (Android App Links)

    def for_path(self, path: str) -> str | None:
        """The file served at one of `routing.APP_LINK_PATHS`."""
        return self.android if path.endswith("/assetlinks.json") else self.apple

    @property
    def is_set(self) -> bool:
        return self.apple is not None or self.android is not None


NO_APP_LINKS = AppLinks()


@dataclass(frozen=True)
class SendingDomain:
    name: str
    token: str  # the value of its TXT record
    verified: bool
    created_at: float
    verified_at: float | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class TrackingHost:
    host: str
    sending_domain: str
    region: str
    created_at: float
    checks: HostChecks | None = None  # None: never checked
    status: HostStatus | None = None  # recomputed from `checks` when they were made
    checked_at: float | None = None
    mode: str = REDIRECT  # PROXY: every request but trackway's own goes to `upstream`
    upstream: str | None = None  # "https://track.customer.io", in proxy mode
    host_header: str = "custom"  # the Host policy upstream (`HOST_HEADER_POLICIES`)
    app_links: AppLinks = NO_APP_LINKS  # served on this host in either mode

    @property
    def proxied(self) -> bool:
        return self.mode == PROXY

    def route(self) -> UpstreamRoute | None:
        """Where its requests go in proxy mode; None in redirect mode. InvalidInput for an
        upstream stored by hand that is no upstream."""
        if not self.proxied or self.upstream is None:
            return None
        return parse_upstream(self.host, self.upstream, self.host_header)

    def in_mode(
        self, mode: str, upstream: str | None, host_header: str, default_base: str
    ) -> TrackingHost:
        """This host in `mode`; its last checks kept but for the upstream's, which are of
        another upstream now, and its status recomputed from them."""
        changed = replace(self, mode=mode, upstream=upstream, host_header=host_header)
        if changed == self or self.checks is None:
            return changed
        checks = replace(self.checks, upstream=None)
        return replace(
            changed, checks=checks, status=host_status(checks, default_base, changed.proxied)
        )

    def ready_for_certificate(self) -> bool:
        return not self.certificate_obstacles()

    def certificate_obstacles(self) -> list[str]:
        """Why an HTTP-01 order would fail now, by the last checks' reasons; [] when ready."""
        if self.checks is None or self.status is None:
            return ["not checked yet"]
        # HSTS turns the http status red (its reason says so) without stopping the CA's
        # plain-HTTP request: what stops it is the probe's own failure.
        http = f"HTTP check: {self.checks.http.error or 'no answer'}"
        return [
            http if check == "http" else self.status.reasons.get(check, f"{check} failing")
            for check in self.checks.certificate_obstacles()
        ]


class DomainStore(Protocol):
    """Where domains and hosts are kept; every write moves `version()`."""

    def close(self) -> None: ...

    def version(self) -> int:
        """Moves whenever a change is committed elsewhere (another process, another
        server): a running server's cue to read again."""
        ...

    def domain(self, name: str) -> SendingDomain | None: ...

    def domains(self) -> list[SendingDomain]: ...

    def put_domain(self, domain: SendingDomain) -> None: ...

    def host(self, host: str) -> TrackingHost | None: ...

    def hosts(self, sending_domain: str | None = None) -> list[TrackingHost]:
        """By creation time, then name."""
        ...

    def put_host(self, host: TrackingHost) -> None:
        """Everything but its app-link files (`put_app_links` alone writes them: a check
        that read the host before a change of its files, and writes its results after,
        must not undo that change)."""
        ...

    def put_app_links(self, host: str, links: AppLinks) -> None: ...

    def record_domain_check(self, domain: SendingDomain) -> bool:
        """Its check results alone (`DOMAIN_CHECK`); False: its row changed meanwhile."""
        ...

    def record_host_check(self, host: TrackingHost) -> bool:
        """Its check results alone (`HOST_CHECK`); False: its row changed meanwhile."""
        ...

    def remove_host(self, host: str) -> None: ...

    def remove_domain(self, name: str) -> None:
        """The domain and its hosts."""
        ...


def open_domain_store(settings: Settings) -> DomainStore:
    """PostgreSQL's with `[store] url` (its schema migrated first), else the data
    folder's `domains.db`. StoreUnavailable when PostgreSQL cannot be reached."""
    if settings.store.url:
        # Imported here: proxy.store's domain store imports this module.
        from proxy.store.domains import PostgresDomainStore

        return PostgresDomainStore(settings.store.url, settings.data)
    return SqliteDomainStore(settings.data)


class SqliteDomainStore:
    def __init__(self, data: Path) -> None:
        path = create_private_file(ensure_data_dir(data) / DOMAINS_FILE)
        # The admin listener opens a service in its thread pool and verifies on the loop:
        # one thread at a time, never at once.
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=5, check_same_thread=False)
        self.db = sqlite_utils.Database(self.conn)
        # One process at a time (every worker opens it as it starts): SQLite answers
        # "database is locked" at once, without its busy wait, to a second connection
        # making the file WAL or its tables meanwhile.
        with file_lock(path.with_name(f".{DOMAINS_FILE}.schema-lock")):
            self.conn.execute("PRAGMA journal_mode = WAL")
            self._create_schema()

    def _create_schema(self) -> None:
        domains = self.db.table("sending_domains")
        if not domains.exists():
            domains.create(
                {"name": str, "token": str, "verified": int, "created_at": float,
                 "verified_at": float, "last_error": str},
                pk="name",
            )  # fmt: skip
        hosts = self.db.table("tracking_hosts")
        if not hosts.exists():
            hosts.create(
                {"host": str, "sending_domain": str, "region": str, "created_at": float,
                 "checks": str, "status": str, "checked_at": float},
                pk="host",
            )  # fmt: skip
        # One row while this file is a mirror (`replace_all`): the identity of the
        # database it mirrors. Any other write deletes it: the file holds rows of its own.
        self.conn.execute("CREATE TABLE IF NOT EXISTS mirror_of (store TEXT NOT NULL)")
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        hosts = self.db.table("tracking_hosts")
        for name, default in _ADDED_HOST_COLUMNS:
            if name in hosts.columns_dict:
                continue
            try:
                hosts.add_column(name, str, not_null_default=default)
            except sqlite3.OperationalError as e:  # another process added it meanwhile
                if "duplicate column" not in str(e):
                    raise

    def close(self) -> None:
        self.conn.close()

    def version(self) -> int:
        """Moves whenever another connection (another process's CLI, the admin API)
        commits a change: the running server's cue to act on it (SQLite's data_version)."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def domain(self, name: str) -> SendingDomain | None:
        rows = list(self.db.query("SELECT * FROM sending_domains WHERE name = ?", [name]))
        return domain_from_row(rows[0]) if rows else None

    def domains(self) -> list[SendingDomain]:
        rows = self.db.query("SELECT * FROM sending_domains ORDER BY name")
        return [domain_from_row(r) for r in rows]

    def put_domain(self, domain: SendingDomain) -> None:
        self._own_rows()
        self.db.table("sending_domains").upsert(domain.__dict__, pk="name")

    def host(self, host: str) -> TrackingHost | None:
        rows = list(self.db.query("SELECT * FROM tracking_hosts WHERE host = ?", [host]))
        return host_from_row(rows[0]) if rows else None

    def hosts(self, sending_domain: str | None = None) -> list[TrackingHost]:
        if sending_domain is None:
            rows = self.db.query("SELECT * FROM tracking_hosts ORDER BY created_at, host")
        else:
            rows = self.db.query(
                "SELECT * FROM tracking_hosts WHERE sending_domain = ? ORDER BY created_at, host",
                [sending_domain],
            )
        return [host_from_row(r) for r in rows]

    def put_host(self, host: TrackingHost) -> None:
        self._own_rows()
        self.db.table("tracking_hosts").upsert(host_row(host), pk="host")

    def put_app_links(self, host: str, links: AppLinks) -> None:
        self._own_rows()
        self.conn.execute(
            "UPDATE tracking_hosts SET apple_app_site_association = ?, assetlinks = ? "
            "WHERE host = ?",
            (links.apple, links.android, host),
        )

    def record_domain_check(self, domain: SendingDomain) -> bool:
        return self._record(DOMAIN_CHECK, domain.__dict__)

    def record_host_check(self, host: TrackingHost) -> bool:
        return self._record(HOST_CHECK, host_row(host))

    def _record(self, columns: CheckColumns, row: dict[str, Any]) -> bool:
        self._own_rows()
        return self.conn.execute(columns.update_sql("?", "IS"), columns.values(row)).rowcount > 0

    def remove_host(self, host: str) -> None:
        self._own_rows()
        self.conn.execute("DELETE FROM tracking_hosts WHERE host = ?", (host,))

    def remove_domain(self, name: str) -> None:
        self._own_rows()
        self.conn.execute("DELETE FROM tracking_hosts WHERE sending_domain = ?", (name,))
        self.conn.execute("DELETE FROM sending_domains WHERE name = ?", (name,))

    def mirror_of(self) -> str | None:
        """The identity of the database this file mirrors; None when it holds rows of
        its own (never mirrored, or written since)."""
        row = self.conn.execute("SELECT store FROM mirror_of").fetchone()
        return None if row is None else str(row[0])

    def _own_rows(self) -> None:
        # First: a write that fails after it leaves at worst a file kept aside for nothing.
        self.conn.execute("DELETE FROM mirror_of")

    def replace_all(
        self, domains: list[SendingDomain], hosts: list[TrackingHost], mirror_of: str
    ) -> None:
        """Every row replaced by these, in one transaction (readers see the old rows or
        the new): the mirror of PostgreSQL's domains that a server's workers read, the
        database `mirror_of` (its identity) recorded with them."""
        rows = [(d.__dict__, "sending_domains") for d in domains] + [
            (host_row(h) | {"apple_app_site_association": h.app_links.apple,
                            "assetlinks": h.app_links.android}, "tracking_hosts")
            for h in hosts
        ]  # fmt: skip
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute("DELETE FROM tracking_hosts")
            self.conn.execute("DELETE FROM sending_domains")
            self.conn.execute("DELETE FROM mirror_of")
            self.conn.execute("INSERT INTO mirror_of (store) VALUES (?)", (mirror_of,))
            for row, table in rows:
                marks = ", ".join("?" * len(row))
                self.conn.execute(
                    f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", tuple(row.values())
                )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise


def host_row(host: TrackingHost) -> dict[str, Any]:
    """Its columns but the app-link files (written by `put_app_links` alone)."""
    row = dict(host.__dict__)
    del row["app_links"]
    row["checks"] = None if host.checks is None else json.dumps(host.checks.as_dict())
    row["status"] = None if host.status is None else json.dumps(host.status.as_dict())
    return row


def domain_from_row(row: dict[str, Any]) -> SendingDomain:
    return SendingDomain(
        row["name"], row["token"], bool(row["verified"]), row["created_at"],
        row["verified_at"], row["last_error"],
    )  # fmt: skip


def host_from_row(row: dict[str, Any]) -> TrackingHost:
    return TrackingHost(
        row["host"], row["sending_domain"], row["region"], row["created_at"],
        HostChecks.from_dict(json.loads(row["checks"])) if row["checks"] else None,
        HostStatus.from_dict(json.loads(row["status"])) if row["status"] else None,
        row["checked_at"], row.get("mode") or REDIRECT, row.get("upstream"),
        row.get("host_header") or "custom",
        AppLinks(row.get("apple_app_site_association"), row.get("assetlinks")),
    )  # fmt: skip
