"""The short pages trackway answers in place of a proxied host's upstream."""

from __future__ import annotations

from aiohttp import web

_PAGES = {
    413: ("Request too large", "This request's body is larger than this server forwards."),
    421: ("Misdirected request", "This server does not serve this host name."),
    502: ("Bad gateway", "The service behind this link could not be reached. Try again later."),
    504: ("Gateway timeout", "The service behind this link did not answer in time."),
}


def error_page(status: int) -> web.Response:
    """An answer of trackway's own: never cached, so that a retry reaches the upstream."""
    title, text = _PAGES[status]
    body = f"<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1><p>{text}\n"
    return web.Response(
        status=status,
        body=body.encode(),
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )
