"""The admin listener: `/api/events`, `/api/stats`, `/api/domains`, `/api/certs`,
`/metrics`, `/healthz`; `/api/*` behind the admin token; the admin page under `/ui/`
(`web`, behind a login with the same token).

`app` builds the application, `domain_routes` the domain and certificate routes,
`query` parses filters (shared with the CLI), `errors` maps the error tree to HTTP
statuses once, `host_metrics` turns certificate and host states into `/metrics` (pure).
Imports `config`, `redirector`, `certs` and `proxy.domains`.
"""

from proxy.admin.app import build_admin_app
from proxy.admin.errors import http_status
from proxy.admin.query import QueryError, event_filter, parse_since

__all__ = ["QueryError", "build_admin_app", "event_filter", "http_status", "parse_since"]
