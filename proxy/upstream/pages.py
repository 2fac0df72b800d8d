"""The short pages trackway answers in place of a proxied host's upstream.

A page for a failed forward says so in `Proxy-Status` (RFC 9209): a client, and the
domain checks' request through trackway, can tell trackway's own 502 or 504 from an
answer of the upstream's.
"""

from __future__ import annotations

from aiohttp import web

from proxy.upstream.headers import PROXY_NAME

_PAGES = {
    413: ("Request too large", "This request's body is larger than this server forwards."),
    421: ("Misdirected request", "This server does not serve this host name."),
    502: ("Bad gateway", "The service behind this link could not be reached. Try again later."),
    504: ("Gateway timeout", "The service behind this link did not answer in time."),
}
# The forwarder's counted reasons as RFC 9209 §2.3 error types.
_PROXY_ERRORS = {
    "connect_timeout": "connection_timeout",
    "read_timeout": "connection_read_timeout",
    "dns": "dns_error",
    "tls": "tls_certificate_error",
    "refused": "connection_refused",
    "broken": "http_response_incomplete",
}


def error_page(status: int, reason: str | None = None) -> web.Response:
    """An answer of trackway's own: never cached, so that a retry reaches the upstream.
    `reason`: why a forward failed (`forwarder.failure`), said in `Proxy-Status`."""
    title, text = _PAGES[status]
    body = f"<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1><p>{text}\n"
    headers = {"Cache-Control": "no-store"}
    if reason is not None:
        error = _PROXY_ERRORS.get(reason, "proxy_internal_error")
        headers["Proxy-Status"] = f"{PROXY_NAME}; error={error}"
    return web.Response(
        status=status,
        body=body.encode(),
        content_type="text/html",
        charset="utf-8",
        headers=headers,
    )
