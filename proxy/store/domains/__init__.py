"""Domains and tracking hosts in PostgreSQL: `store` is the `DomainStore` of every
server on one database (`proxy.domains.store.open_domain_store` opens it with `[store]
url`), `mirror` writes them into a server's domains.db for its workers, `copy` puts a
data folder's domains.db into the database (`trackway store copy`)."""

from proxy.store.domains.copy import copy_domains
from proxy.store.domains.store import PostgresDomainStore

__all__ = ["PostgresDomainStore", "copy_domains"]
