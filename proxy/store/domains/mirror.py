"""The database's domains into this server's domains.db, which its workers read (their
live routes: `proxy.domains.proxy_routes`), so that a proxied host is forwarded, and
an app-link file served, while the database is down, even by a server started then."""

from __future__ import annotations

from pathlib import Path

from proxy.domains.store import SqliteDomainStore
from proxy.store.domains.store import PostgresDomainStore

__all__ = ["mirror_domains"]


def mirror_domains(shared: PostgresDomainStore, data: Path) -> int:
    """Every domain and host of `shared` in `data`'s domains.db, in one transaction; the
    version mirrored (read first: a write meanwhile is pulled at the next look)."""
    version = shared.version()
    domains, hosts = shared.domains(), shared.hosts()
    local = SqliteDomainStore(data)
    try:
        local.replace_all(domains, hosts)
    finally:
        local.close()
    return version
