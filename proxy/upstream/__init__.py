"""Reverse-proxy mode: a tracking host forwarded to an email platform's tracking host.

`route` says where a proxied host goes (the one upstream configured for it, and which
Host header it gets); `routing` who answers a request by its host and path (forwarded,
trackway's own paths, misdirected); `headers` the header rules both ways, for both
ways of forwarding. `fast_forward` forwards plain requests from the public listener's
raw protocol (handed over by the click path), over `upstream_pool`'s connections
(`relay` one exchange, `response_head` reads the answer); `forwarder` forwards the rest
through aiohttp (one pooled client session per worker, streamed bodies). Both answer
413/502/504 as `pages` and count as `accounting`. Imports `config` and `redirector`
(the click path's connections, client addresses, metrics).
"""

from proxy.upstream.forwarder import Forwarder
from proxy.upstream.route import HOST_HEADER_POLICIES, UpstreamRoute, parse_upstream
from proxy.upstream.routing import APP_LINK_PATHS, request_host

__all__ = [
    "APP_LINK_PATHS",
    "HOST_HEADER_POLICIES",
    "Forwarder",
    "UpstreamRoute",
    "parse_upstream",
    "request_host",
]
