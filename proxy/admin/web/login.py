"""Logging in with the admin token, and out.

The session cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's
page sends it), `Path=/`, and `Secure` when the request came over HTTPS: to this listener,
or to a proxy in `[server] trusted_proxies` that says so (`X-Forwarded-Proto: https`), or
always with `[server] admin_cookie_secure`.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from aiohttp import web

from config import ServerSettings
from proxy.admin.web.guard import COOKIE, LOGIN_PATH, SESSIONS, session_of
from proxy.admin.web.markup import page, render, when
from proxy.admin.web.sessions import SESSION_SECONDS
from redirector.clicks.client_address import Network, parse_address

__all__ = ["COOKIE_SECURITY", "TOKEN", "CookieSecurity", "add_login_routes"]

TOKEN = web.AppKey("web_admin_token", str)


@dataclass(frozen=True)
class CookieSecurity:
    """When the session cookie is Secure. Pure."""

    always: bool = False
    proxies: tuple[Network, ...] = ()  # whose X-Forwarded-Proto is believed

    @classmethod
    def from_settings(cls, server: ServerSettings) -> CookieSecurity:
        proxies = tuple(ipaddress.ip_network(n, strict=False) for n in server.trusted_proxies)
        return cls(server.admin_cookie_secure, proxies)

    def secure(self, tls: bool, peer: str | None, forwarded_proto: str | None) -> bool:
        if self.always or tls:
            return True
        address = parse_address(peer) if peer else None
        if forwarded_proto is None or address is None:
            return False
        if not any(address in network for network in self.proxies):
            return False
        # The proxy nearest us wrote the last value; one before it may be the client's.
        return forwarded_proto.rpartition(",")[2].strip().lower() == "https"


COOKIE_SECURITY = web.AppKey("web_cookie_security", CookieSecurity)
HOME = "/ui/domains"

_FORM = """<section class="card">
$refused
<form method="post" action="/ui/login" class="stack">
<label>Admin token
<input type="password" name="token" autocomplete="current-password" required autofocus>
</label>
<p class="muted">It is in the data folder's <code>admin-token</code> file.</p>
<button type="submit">Log in</button>
</form>
</section>"""


def _login_page(refused: bool) -> web.Response:
    warning = render('<p class="error" role="alert">$m</p>', m="Wrong token: not logged in.")
    body = render(_FORM, refused=when(refused, warning))
    return web.Response(
        text=page("Log in", body), status=401 if refused else 200, content_type="text/html"
    )


async def login_form(request: web.Request) -> web.StreamResponse:
    if request.app[SESSIONS].find(request.cookies.get(COOKIE), time.time()) is not None:
        raise web.HTTPSeeOther(HOME)
    return _login_page(refused=False)


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    given = form.get("token")
    session = request.app[SESSIONS].login(
        request.app[TOKEN], given.strip() if isinstance(given, str) else None, time.time()
    )
    if session is None:
        return _login_page(refused=True)
    response = web.HTTPSeeOther(HOME)
    response.set_cookie(
        COOKIE,
        session.id,
        path="/",
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="Strict",
        secure=request.app[COOKIE_SECURITY].secure(
            request.secure,  # the listener's own TLS (aiohttp believes no header here)
            request.remote,
            request.headers.get("X-Forwarded-Proto"),
        ),
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    request.app[SESSIONS].logout(session_of(request).id)
    response = web.HTTPSeeOther(LOGIN_PATH)
    response.del_cookie(COOKIE, path="/")
    raise response


def add_login_routes(app: web.Application, server: ServerSettings) -> None:
    app[COOKIE_SECURITY] = CookieSecurity.from_settings(server)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
