"""The admin page put together: a sub-application at `/ui/` of the admin listener (the
public listeners never have it), behind the login, and `/` leading to it."""

from __future__ import annotations

from aiohttp import web

from config import Settings
from proxy.admin.web.domain_pages import add_domain_pages
from proxy.admin.web.guard import SECURITY_HEADERS, SESSIONS, guard
from proxy.admin.web.login import TOKEN, add_login_routes
from proxy.admin.web.message_pages import Readers, add_message_pages
from proxy.admin.web.sessions import Sessions
from proxy.admin.web.static import add_static_routes

__all__ = ["PREFIX", "add_admin_pages"]

PREFIX = "/ui/"


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(f"{PREFIX}domains", headers=SECURITY_HEADERS)


def add_admin_pages(
    app: web.Application, settings: Settings, token: str, readers: Readers
) -> None:
    """The pages on `app` (the admin application), behind `token`."""
    pages = web.Application(middlewares=[guard])
    pages[SESSIONS] = Sessions()
    pages[TOKEN] = token
    pages.router.add_get("/", _home)
    add_login_routes(pages, settings.server)
    add_domain_pages(pages, settings)
    add_message_pages(pages, readers)
    add_static_routes(pages)
    app.add_subapp(PREFIX, pages)
    app.router.add_get("/", _home)
