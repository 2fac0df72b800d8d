"""The database's domains into this server's domains.db, which its workers read (their
live routes: `proxy.domains.proxy_routes`), so that a proxied host is forwarded, and
an app-link file served, while the database is down, even by a server started then.

domains.db records which database it mirrors. A file that is not yet this database's
mirror (a server that ran on SQLite alone, then got `[store] url` without `trackway
store copy`) and holds domains or hosts the database lacks is copied aside first, as
`domains.db.local-<time>`, with one warning line: nothing is lost. A mirror that drops a
domain removed on another server keeps nothing aside.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import tempfile
import time
from collections.abc import Hashable, Set
from pathlib import Path

from config.datafolder import unused_path
from proxy.domains.store import DOMAINS_FILE, SendingDomain, SqliteDomainStore, TrackingHost
from proxy.store.domains.store import PostgresDomainStore

__all__ = ["mirror_domains", "must_keep_aside"]

log = logging.getLogger("trackway.domains")


def mirror_domains(shared: PostgresDomainStore, data: Path, now: int) -> int:
    """Every domain and host of `shared` in `data`'s domains.db, in one transaction; the
    version mirrored (read first: a write meanwhile is pulled at the next look)."""
    version = shared.version()
    identity = shared.identity()
    domains, hosts = shared.domains(), shared.hosts()
    local = SqliteDomainStore(data)
    try:
        mirror = local.mirror_of() == identity
        own = _keys(local.domains(), local.hosts())
        if must_keep_aside(mirror, own, _keys(domains, hosts)):
            kept = _keep_aside(local, data, now)
            log.warning(
                "domains: this server's domains.db held domains or hosts the database "
                "lacks; the database's are used, this server's are kept as %s "
                "(`trackway store copy --to URL` with that file as domains.db shares them)",
                kept,
            )
        local.replace_all(domains, hosts, identity)
    finally:
        local.close()
    return version


def must_keep_aside(mirror: bool, local: Set[Hashable], shared: Set[Hashable]) -> bool:
    """Whether domains.db is copied aside before the mirror replaces its rows: it is not
    yet the database's mirror, and holds rows (by key) the database lacks. Pure."""
    return not mirror and not local <= shared


def _keys(domains: list[SendingDomain], hosts: list[TrackingHost]) -> set[tuple[str, str]]:
    return {("domain", d.name) for d in domains} | {("host", h.host) for h in hosts}


def _keep_aside(local: SqliteDomainStore, data: Path, now: int) -> Path:
    """A copy of domains.db (SQLite's backup: with what its WAL holds), 0600, appearing
    whole under its name or not at all; never over an earlier one."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    kept = unused_path(data / f"{DOMAINS_FILE}.local-{stamp}")
    fd, tmp = tempfile.mkstemp(dir=data, prefix=f".{kept.name}.")  # 0600
    os.close(fd)
    try:
        with contextlib.closing(sqlite3.connect(tmp)) as copy:
            local.conn.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # one file, no -wal beside it
        os.replace(tmp, kept)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return kept
