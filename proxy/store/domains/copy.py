"""A data folder's domains.db into PostgreSQL, for `trackway store copy`: every sending
domain and tracking host (checks, status, mode, app-link files) the database lacks;
rows it has already are left as they are, so a second copy adds nothing."""

from __future__ import annotations

from typing import NamedTuple

from config import Settings
from proxy.domains.store import DOMAINS_FILE, SqliteDomainStore, host_row
from proxy.store.connection import connect, unavailable_on_errors
from proxy.store.domains.store import migrated

__all__ = ["Copied", "copy_domains"]


class Copied(NamedTuple):
    found: int  # rows in the data folder
    added: int  # of them, rows the database did not have


def copy_domains(settings: Settings, url: str) -> dict[str, Copied]:
    """Counts by table (`sending_domains`, `tracking_hosts`). Idempotent."""
    if not (settings.data / DOMAINS_FILE).exists():
        return {"sending_domains": Copied(0, 0), "tracking_hosts": Copied(0, 0)}
    local = SqliteDomainStore(settings.data)
    try:
        domains, hosts = local.domains(), local.hosts()
    finally:
        local.close()
    with unavailable_on_errors(), connect(migrated(url)) as conn, conn.transaction():
        added_domains = 0
        for domain in domains:
            row = domain.__dict__
            added_domains += conn.execute(
                f"INSERT INTO sending_domains ({', '.join(row)}) "
                f"VALUES ({', '.join(['%s'] * len(row))}) ON CONFLICT DO NOTHING",
                tuple(row.values()),
            ).rowcount
        added_hosts = 0
        for host in hosts:
            row = host_row(host)
            row["apple_app_site_association"] = host.app_links.apple
            row["assetlinks"] = host.app_links.android
            added_hosts += conn.execute(
                f"INSERT INTO tracking_hosts ({', '.join(row)}) "
                f"VALUES ({', '.join(['%s'] * len(row))}) ON CONFLICT DO NOTHING",
                tuple(row.values()),
            ).rowcount
        if added_domains or added_hosts:
            conn.execute("UPDATE state_versions SET version = version + 1 WHERE name = 'domains'")
    return {
        "sending_domains": Copied(len(domains), added_domains),
        "tracking_hosts": Copied(len(hosts), added_hosts),
    }
