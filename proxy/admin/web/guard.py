"""What every admin page goes through: the session (else the login form), the CSRF token
of every state-changing form, security headers, and errors as pages.

Errors keep the admin API's one mapping to HTTP statuses (`proxy.admin.errors`); here
they are shown as a page instead of JSON.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from config.errors import TrackwayError
from proxy.admin.errors import http_status
from proxy.admin.web.markup import Html, page, render
from proxy.admin.web.sessions import Session, Sessions

__all__ = [
    "COOKIE",
    "LOGIN_PATH",
    "SECURITY_HEADERS",
    "SESSIONS",
    "guard",
    "message_page",
    "session_of",
]

COOKIE = "trackway_session"
LOGIN_PATH = "/ui/login"
SESSIONS = web.AppKey("web_sessions", Sessions)
# Reached without a session: the login form and what it loads.
OPEN_PATHS = frozenset({LOGIN_PATH, "/ui/static/admin.js", "/ui/static/admin.css"})
_SESSION = web.RequestKey("trackway_web_session", Session)

SECURITY_HEADERS = {
    # No inline script or style: the page's one script and stylesheet are static routes.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def session_of(request: web.Request) -> Session:
    """The request's session; the guard has found it before any handler runs."""
    return request[_SESSION]


def message_page(
    title: str, message: str, status: int, session: Session | None = None
) -> web.Response:
    """A page that says why something was refused or could not be done."""
    back = Html('<p><a href="/ui/domains">Back to the domains</a></p>' if session else "")
    body = render('<p class="error" role="alert">$message</p>$back', message=message, back=back)
    return _html(page(title, body, session.csrf if session else None), status)


def _html(text: str, status: int) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await _guarded(request, handler)
    except web.HTTPException as e:  # redirects, 404 and 405 too
        e.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPEN_PATHS:
        return await handler(request)
    session = request.app[SESSIONS].find(request.cookies.get(COOKIE), time.time())
    if session is None:
        if request.method in ("GET", "HEAD"):
            raise web.HTTPSeeOther(LOGIN_PATH)
        return message_page("Log in again", "No session: log in again.", 403)
    if request.method not in ("GET", "HEAD"):
        form = await request.post()
        given = form.get("csrf")
        if not session.csrf_ok(given if isinstance(given, str) else None):
            return message_page(
                "Refused",
                "This form's CSRF token is missing or wrong: reload the page and try again.",
                403,
                session,
            )
    request[_SESSION] = session
    try:
        return await handler(request)
    except TrackwayError as e:
        return message_page("Not done", str(e), http_status(e), session)
