"""The short pages trackway answers in place of a proxied host's upstream, as aiohttp
responses and as the bytes the proxy's fast path writes."""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web

_PAGES = {
    413: ("Request too large", "This request's body is larger than this server forwards."),
    421: ("Misdirected request", "This server does not serve this host name."),
    502: ("Bad gateway", "The service behind this link could not be reached. Try again later."),
    504: ("Gateway timeout", "The service behind this link did not answer in time."),
}


def _body(status: int) -> bytes:
    title, text = _PAGES[status]
    page = f"<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1><p>{text}\n"
    return page.encode()


def error_page(status: int) -> web.Response:
    """An answer of trackway's own: never cached, so that a retry reaches the upstream."""
    return web.Response(
        status=status,
        body=_body(status),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )


def error_page_bytes(status: int, date_line: bytes, keep_alive: bool) -> bytes:
    """`error_page` as an HTTP/1.1 answer on the wire (`date_line`: "Date: …\\r\\n")."""
    body = _body(status)
    return (
        b"HTTP/1.1 %d %s\r\n%sContent-Type: text/html; charset=utf-8\r\n"
        b"Cache-Control: no-store\r\nContent-Length: %d\r\n%s\r\n%s"
        % (
            status,
            HTTPStatus(status).phrase.encode(),
            date_line,
            len(body),
            b"" if keep_alive else b"Connection: close\r\n",
            body,
        )
    )
