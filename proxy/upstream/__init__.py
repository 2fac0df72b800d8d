"""Reverse-proxy mode: a tracking host forwarded to an email platform's tracking host.

`route` says where a proxied host goes (the one upstream configured for it, and which
Host header it gets). Imports `config`, `redirector` (client addresses) and `proxy.domains`.
"""

from proxy.upstream.route import HOST_HEADER_POLICIES, UpstreamRoute, parse_upstream

__all__ = ["HOST_HEADER_POLICIES", "UpstreamRoute", "parse_upstream"]
