"""The short pages trackway answers in place of a proxied host's upstream, as aiohttp
responses and as the bytes the proxy's fast path writes.

A page for a failed forward says so in `Proxy-Status` (RFC 9209): a client, and the
domain checks' request through trackway, can tell trackway's own 502 or 504 from an
answer of the upstream's.
"""

from __future__ import annotations

from http import HTTPStatus

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


def _body(status: int) -> bytes:
    title, text = _PAGES[status]
    page = f"<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1><p>{text}\n"
    return page.encode()


def _proxy_status(reason: str) -> str:
    """`reason`: why a forward failed (`forwarder.failure`)."""
    return f"{PROXY_NAME}; error={_PROXY_ERRORS.get(reason, 'proxy_internal_error')}"


def error_page(status: int, reason: str | None = None) -> web.Response:
    """An answer of trackway's own: never cached, so that a retry reaches the upstream.
    `reason`: why a forward failed, said in `Proxy-Status`."""
    headers = {"Cache-Control": "no-store"}
    if reason is not None:
        headers["Proxy-Status"] = _proxy_status(reason)
    return web.Response(
        status=status,
        body=_body(status),
        content_type="text/html",
        charset="utf-8",
        headers=headers,
    )


def error_page_bytes(
    status: int,
    date_line: bytes,
    keep_alive: bool,
    reason: str | None = None,
    is_head: bool = False,
) -> bytes:
    """`error_page` as an HTTP/1.1 answer on the wire (`date_line`: "Date: …\\r\\n").
    `is_head`: the answer to a HEAD request, its body left out (its length said)."""
    body = _body(status)
    proxy_status = (
        b"" if reason is None else b"Proxy-Status: %s\r\n" % _proxy_status(reason).encode("ascii")
    )
    return (
        b"HTTP/1.1 %d %s\r\n%sContent-Type: text/html; charset=utf-8\r\n"
        b"Cache-Control: no-store\r\n%sContent-Length: %d\r\n%s\r\n%s"
        % (
            status,
            HTTPStatus(status).phrase.encode(),
            date_line,
            proxy_status,
            len(body),
            b"" if keep_alive else b"Connection: close\r\n",
            b"" if is_head else body,
        )
    )
