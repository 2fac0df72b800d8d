"""Custom tracking domains: a sending domain proven by TXT, its tracking hosts checked
(CNAME, HTTP, HSTS, HTTPS), and the link base new emails use.

`service` carries out what users ask (add, verify, describe, remove, order a
certificate for a host that is ready) with the stores it is given; `store` keeps domains
and hosts in `domains.db`; `checks` does the network I/O (connecting only where
`addresses` allows); `status`, `link_bases`, `descriptions`, `names`, `addresses` and
`hsts` are pure decisions and forms; `errors` says why an operation cannot be done.
Imports `config` and `certs` (certificate state, orders on request).
"""

from proxy.domains.domain_settings import DomainSettings
from proxy.domains.errors import (
    DomainConflict,
    DomainError,
    HostNotReady,
    InvalidDomain,
    UnknownDomain,
)
from proxy.domains.link_bases import LinkBase
from proxy.domains.service import DomainService, open_domain_service
from proxy.domains.status import HostChecks, HostStatus, host_status

__all__ = [
    "DomainConflict",
    "DomainError",
    "DomainService",
    "DomainSettings",
    "HostChecks",
    "HostNotReady",
    "HostStatus",
    "InvalidDomain",
    "LinkBase",
    "UnknownDomain",
    "host_status",
    "open_domain_service",
]
