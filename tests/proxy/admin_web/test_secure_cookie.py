"""The session cookie's Secure under `serve`, where the admin listener is plain HTTP:
`[server] admin_cookie_secure` forces it, and a proxy of `[server] trusted_proxies`
saying `X-Forwarded-Proto: https` earns it; nobody else's header does (review finding)."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from config import ServerSettings, Settings, load_settings
from proxy.admin.app import build_admin_app
from proxy.admin.web.login import CookieSecurity
from proxy.data_folder import admin_token

Client = TestClient[web.Request, web.Application]
ClientMaker = Callable[[web.Application], Awaitable[Client]]


async def cookie_attributes(
    aiohttp_client: ClientMaker, settings: Settings, headers: dict[str, str]
) -> set[str]:
    token = admin_token(settings.data)
    admin = await aiohttp_client(build_admin_app(settings, token))
    resp = await admin.post(
        "/ui/login", data={"token": token}, headers=headers, allow_redirects=False
    )
    assert resp.status == 303
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("trackway_session=")
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


@pytest.mark.parametrize(
    ("server", "headers", "secure"),
    [
        (ServerSettings(), {}, False),
        (ServerSettings(admin_cookie_secure=True), {}, True),
        # The test client connects from 127.0.0.1.
        (ServerSettings(trusted_proxies=("127.0.0.0/8",)), {"X-Forwarded-Proto": "https"}, True),
        (ServerSettings(trusted_proxies=("127.0.0.0/8",)), {"X-Forwarded-Proto": "http"}, False),
        (ServerSettings(trusted_proxies=("127.0.0.0/8",)), {}, False),
        # Not from a trusted proxy: anyone can send the header.
        (ServerSettings(), {"X-Forwarded-Proto": "https"}, False),
        (ServerSettings(trusted_proxies=("10.0.0.0/8",)), {"X-Forwarded-Proto": "https"}, False),
    ],
)
async def test_secure_over_plain_http_when_configured_or_a_trusted_proxy_says_https(
    aiohttp_client: ClientMaker,
    tmp_path: Path,
    server: ServerSettings,
    headers: dict[str, str],
    secure: bool,
) -> None:
    settings = Settings(data=tmp_path / "data", server=server)
    attributes = await cookie_attributes(aiohttp_client, settings, headers)
    assert ("secure" in attributes) is secure
    assert {"httponly", "samesite", "path"} <= attributes


def test_the_setting_loads_from_file_and_variable(tmp_path: Path) -> None:
    assert load_settings(None, {}).server.admin_cookie_secure is False
    env = {"TRACKWAY_SERVER_ADMIN_COOKIE_SECURE": "true"}
    assert load_settings(None, env).server.admin_cookie_secure is True
    config = tmp_path / "trackway.toml"
    config.write_text("[server]\nadmin_cookie_secure = true\n")
    assert load_settings(config, {}).server.admin_cookie_secure is True


def test_the_decision() -> None:
    proxies = (ipaddress.ip_network("10.0.0.0/8"),)
    trusting = CookieSecurity(proxies=proxies)
    assert trusting.secure(True, None, None)  # the listener's own TLS
    assert trusting.secure(False, "10.1.2.3", "HTTPS")
    assert trusting.secure(False, "::ffff:10.1.2.3", "https")  # a dual-stack listener
    # The nearest proxy's value is the last one; what came before may be the client's.
    assert trusting.secure(False, "10.1.2.3", "http, https")
    assert not trusting.secure(False, "10.1.2.3", "https, http")
    assert not trusting.secure(False, "192.0.2.1", "https")
    assert not trusting.secure(False, None, "https")
    assert not trusting.secure(False, "10.1.2.3", None)
    assert CookieSecurity(always=True).secure(False, "192.0.2.1", None)
