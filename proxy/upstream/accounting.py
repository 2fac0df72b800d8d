"""What both forwarding paths count and log of a proxied request: its answer's status,
its upstream's errors by reason, the time to the answer's head."""

from __future__ import annotations

import logging

from proxy.upstream.route import UpstreamRoute
from redirector import metrics

log = logging.getLogger("trackway.proxy")


def answered(route: UpstreamRoute, status: int) -> None:
    """An answer went to the client: the upstream's, or trackway's 413, 502, 504."""
    metrics.instruments().proxy_requests.labels(route.host, str(status)).inc()


def upstream_seconds(seconds: float) -> None:
    """From forwarding a request to its upstream's answer's head."""
    metrics.instruments().proxy_upstream_seconds.observe(seconds)


def upstream_failed(route: UpstreamRoute, reason: str, what: str) -> None:
    """`reason`: refused, dns, tls, broken, connect_timeout or read_timeout."""
    metrics.instruments().proxy_upstream_errors.labels(route.host, reason).inc()
    log.warning("proxy %s -> %s: %s, %s", route.host, route.upstream, reason, what)
