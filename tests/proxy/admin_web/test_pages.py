"""The admin page through real HTTP on loopback (aiohttp's test server): login, the
session cookie, CSRF, security headers, the domain forms, and never on the public
listener."""

from __future__ import annotations

import re
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import trustme
from aiohttp import web
from aiohttp.test_utils import TestClient

from config import CheckSettings, DnsSettings, Settings
from proxy.admin.app import build_admin_app
from proxy.admin.web.guard import SECURITY_HEADERS
from proxy.data_folder import admin_token
from proxy.domains.service import open_domain_service
from tests.support.challtestsrv import ChallTestSrv, free_port
from tests.support.clicks import BROWSER, ListenerClient, TokenMaker, stored

Client = TestClient[web.Request, web.Application]
ClientMaker = Callable[[web.Application], Awaitable[Client]]
US = "t.trackway.example"


@pytest.fixture
def web_settings(tmp_path: Path, dns: ChallTestSrv) -> Settings:
    # Nothing listens on the check ports: HTTP is unreachable, at once.
    return Settings(
        data=tmp_path / "data",
        regions={"us": US},
        dns=DnsSettings(nameservers=(dns.nameserver,), timeout=1.0),
        checks=CheckSettings(
            http_port=free_port(), https_port=free_port(), timeout=2,
            allowed_networks=("127.0.0.0/8",),
        ),
    )  # fmt: skip


@pytest.fixture
async def admin(aiohttp_client: ClientMaker, web_settings: Settings) -> Client:
    return await aiohttp_client(build_admin_app(web_settings, admin_token(web_settings.data)))


async def log_in(admin: Client, settings: Settings) -> str:
    """Logs the client in; the session's CSRF token, as its pages carry it."""
    resp = await admin.post(
        "/ui/login", data={"token": admin_token(settings.data)}, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    page = await (await admin.get("/ui/domains")).text()
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def test_pages_need_a_login(admin: Client) -> None:
    for path in ["/", "/ui/", "/ui/domains", "/ui/domains/example.com", "/ui/messages"]:
        resp = await admin.get(path, allow_redirects=False)
        assert resp.status == 303, path
        assert resp.headers["Location"] in ("/ui/domains", "/ui/login"), path
    resp = await admin.post("/ui/domains", data={"domain": "example.com"})
    assert resp.status == 403
    login = await admin.get("/ui/login")
    assert login.status == 200
    assert 'type="password" name="token"' in await login.text()


async def test_a_wrong_token_is_refused(admin: Client, web_settings: Settings) -> None:
    token = admin_token(web_settings.data)
    for wrong in ["", "nope", token[:-1], token + "x", token.upper()]:
        resp = await admin.post("/ui/login", data={"token": wrong}, allow_redirects=False)
        assert resp.status == 401
        assert "Wrong token" in await resp.text()
        assert "trackway_session" not in resp.cookies
    assert (await admin.get("/ui/domains", allow_redirects=False)).status == 303


async def test_the_session_cookie(admin: Client, web_settings: Settings) -> None:
    resp = await admin.post(
        "/ui/login", data={"token": admin_token(web_settings.data)}, allow_redirects=False
    )
    assert resp.status == 303
    assert resp.headers["Location"] == "/ui/domains"
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("trackway_session=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    assert "secure" not in attributes  # plain HTTP here; HTTPS requests get Secure
    assert (await admin.get("/ui/domains")).status == 200


async def test_security_headers_on_every_page(admin: Client, web_settings: Settings) -> None:
    await log_in(admin, web_settings)
    for path in ["/ui/login", "/ui/domains", "/ui/messages", "/ui/static/admin.js", "/ui/nope"]:
        resp = await admin.get(path, allow_redirects=False)
        for header, value in SECURITY_HEADERS.items():
            assert resp.headers.get(header) == value, (path, header)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    page = await (await admin.get("/ui/domains")).text()
    assert re.search(r"<script>|<style>| style=| on\w+=", page) is None


async def test_missing_or_wrong_csrf_is_refused(admin: Client, web_settings: Settings) -> None:
    csrf = await log_in(admin, web_settings)
    for form in [{"domain": "example.com"}, {"domain": "example.com", "csrf": csrf + "x"}]:
        resp = await admin.post("/ui/domains", data=form)
        assert resp.status == 403
        assert "CSRF token is missing or wrong" in await resp.text()
    with open_domain_service(web_settings) as service:
        assert service.all_domains() == []
    resp = await admin.post("/ui/logout", data={})
    assert resp.status == 403
    assert (await admin.get("/ui/domains", allow_redirects=False)).status == 200  # still in


async def test_forms_do_what_the_api_does(
    admin: Client, web_settings: Settings, dns: ChallTestSrv
) -> None:
    csrf = await log_in(admin, web_settings)
    resp = await admin.post(
        "/ui/domains",
        data={"csrf": csrf, "domain": "Example.COM", "host": "links.example.com", "region": "us"},
    )
    assert resp.status == 200
    assert str(resp.url).endswith("/ui/domains/example.com")
    page = await resp.text()
    assert "Added example.com" in page
    assert "_trackway.example.com" in page
    assert 'data-check="CNAME" data-colour="red"' in page
    with open_domain_service(web_settings) as service:
        api = service.describe("example.com").as_dict()
    assert api["txt_record"]["value"] in page  # the same record as the API's
    assert "no TXT record at _trackway.example.com" in page  # the service's words

    resp = await admin.post(
        "/ui/domains/links.example.com/proxy",
        data={"csrf": csrf, "upstream": "ftp://nope", "host_header": "custom"},
    )
    assert resp.status == 400  # the service's refusal, as a page
    assert "upstream" in (await resp.text()).lower()
    resp = await admin.post(
        "/ui/domains/links.example.com/proxy",
        data={"csrf": csrf, "upstream": "https://track.platform.example", "host_header": "custom"},
    )
    assert resp.status == 200
    assert "requests go to <code>https://track.platform.example</code>" in await resp.text()
    resp = await admin.post("/ui/domains/links.example.com/redirect", data={"csrf": csrf})
    assert "Redirect: trackway" in await resp.text()

    resp = await admin.post("/ui/domains/links.example.com/remove", data={"csrf": csrf})
    assert "removed tracking host links.example.com" in await resp.text()
    resp = await admin.post("/ui/domains/example.com/remove", data={"csrf": csrf})
    assert str(resp.url).endswith("/ui/domains")
    assert "removed sending domain example.com" in await resp.text()
    assert (await admin.get("/ui/domains/example.com")).status == 404

    resp = await admin.post("/ui/logout", data={"csrf": csrf}, allow_redirects=False)
    assert resp.status == 303
    assert (await admin.get("/ui/domains", allow_redirects=False)).status == 303


async def test_the_message_view(
    aiohttp_client: ClientMaker,
    public_client: Callable[..., Awaitable[ListenerClient]],
    settings: Settings,
    make_token: TokenMaker,
) -> None:
    public = await public_client(settings)
    for i in range(3):
        resp = await public.get(
            f"/c/{make_token(recipient_id=f'r{i}')}",
            allow_redirects=False,
            headers={"User-Agent": BROWSER},
        )
        assert resp.status == 302
    await public.get(f"/o/{make_token(url='')}", headers={"User-Agent": BROWSER})
    await stored(settings)
    admin = await aiohttp_client(build_admin_app(settings, admin_token(settings.data)))
    await log_in(admin, settings)
    page = await (await admin.get("/ui/messages", params={"message_id": "msg-1"})).text()
    row = re.search(r'<tr data-link="0">.*?</tr>', page, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(0))
    assert cells == ["0", "—", "<code>https://example.com/landing?a=1</code>", "3", "0", "—", "3"]
    assert '<span id="human-opens">1</span>' in page
    assert '<svg class="chart"' in page


async def test_never_on_the_public_listener(
    public_client: Callable[..., Awaitable[ListenerClient]], settings: Settings
) -> None:
    public = await public_client(settings)
    token = admin_token(settings.data)
    for method, path in [
        ("GET", "/ui/login"), ("GET", "/ui/domains"), ("GET", "/ui/"), ("GET", "/"),
        ("GET", "/ui/static/admin.js"), ("POST", "/ui/login"),
    ]:  # fmt: skip
        resp = await public.session.request(
            method, path, data={"token": token}, allow_redirects=False
        )
        body = await resp.text()
        assert resp.status in (404, 405), (path, resp.status)
        assert "trackway_session" not in resp.cookies
        assert "password" not in body
        assert "Log in" not in body


async def test_the_cookie_is_secure_over_https(web_settings: Settings) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    runner = web.AppRunner(build_admin_app(web_settings, admin_token(web_settings.data)))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=server_context).start()
    try:
        async with aiohttp.ClientSession() as session:
            resp = await session.post(
                f"https://127.0.0.1:{port}/ui/login",
                data={"token": admin_token(web_settings.data)},
                allow_redirects=False,
                ssl=client_context,
            )
            assert resp.status == 303
            cookie = resp.headers["Set-Cookie"]
    finally:
        await runner.cleanup()
    assert "; Secure" in cookie
    assert "HttpOnly" in cookie
