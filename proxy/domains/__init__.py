"""Custom tracking domains: a sending domain proven by TXT, its tracking hosts checked
(CNAME, HTTP, HSTS, HTTPS), and the link base new emails use.

`service` carries out what users ask (add, verify, describe, remove, put a host in
proxy or redirect mode, order a certificate for a host that is ready) with the stores it
is given (`domain_settings`: what it uses of the settings); `store` keeps domains and
hosts (with their mode and app-link files) in `domains.db`, or with `[store] url` in
PostgreSQL (`proxy.store.domains`, opened by `store.open_domain_store`); `checks` does the network
I/O (connecting only where `addresses` allows); `proxy_routes` keeps a running worker's
map of proxied hosts (and of app-link files) in step with the store; `status`,
`link_bases`, `descriptions`, `names`, `addresses` and `hsts` are pure decisions and
forms; `errors` says why an operation cannot be done.
Imports `config`, `certs` (certificate state, orders on request) and `proxy.upstream.route`
(a proxied host's route).
"""

from proxy.domains.domain_settings import DomainSettings
from proxy.domains.errors import (
    DomainConflict,
    DomainError,
    HostNotReady,
    HostProxied,
    InvalidDomain,
    UnknownDomain,
)
from proxy.domains.link_bases import LinkBase
from proxy.domains.proxy_routes import LiveRoutes
from proxy.domains.service import DomainService, open_domain_service
from proxy.domains.status import HostChecks, HostStatus, host_status

__all__ = [
    "DomainConflict",
    "DomainError",
    "DomainService",
    "DomainSettings",
    "HostChecks",
    "HostNotReady",
    "HostProxied",
    "HostStatus",
    "InvalidDomain",
    "LinkBase",
    "LiveRoutes",
    "UnknownDomain",
    "host_status",
    "open_domain_service",
]
