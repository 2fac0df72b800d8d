"""The admin API's `/api/certs` against Pebble."""

from __future__ import annotations

from typing import Any

from proxy.admin.app import build_admin_app
from proxy.data_folder import admin_token
from proxy.domains.service import open_domain_service
from tests.support.cert_stack import US


async def test_admin_api_certs(stack_factory: Any, aiohttp_client: Any) -> None:
    stack = await stack_factory()
    await stack.add_host("links.example.com")
    token = admin_token(stack.settings.data)
    client = await aiohttp_client(build_admin_app(stack.settings, token))
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/certs")).status == 401
    listed = await (await client.get("/api/certs", headers=auth)).json()
    assert listed == {
        "certificates": [
            {"host": "links.example.com", "present": False},
            {"host": US, "present": False},  # the region's default host
        ]
    }
    renewed = await (await client.post("/api/certs/links.example.com/renew", headers=auth)).json()
    assert renewed["present"] is True
    assert renewed["last_error"] is None
    shown = await (await client.get("/api/certs/links.example.com", headers=auth)).json()
    assert shown["not_after"] == renewed["not_after"]
    assert (await client.get("/api/certs/not a host", headers=auth)).status == 400


async def test_a_host_not_ready_is_refused_and_forced(
    stack_factory: Any, aiohttp_client: Any
) -> None:
    stack = await stack_factory()
    host = "unproven.example.org"  # its domain's TXT record never set
    with open_domain_service(stack.settings) as service:
        service.add("example.org", host)
        stack.dns.set_cname(host, US)
        await service.verify(host)
    token = admin_token(stack.settings.data)
    client = await aiohttp_client(build_admin_app(stack.settings, token))
    auth = {"Authorization": f"Bearer {token}"}
    refused = await client.post(f"/api/certs/{host}/renew", headers=auth)
    assert refused.status == 409
    assert "TXT record is not verified" in (await refused.json())["error"]
    # Pebble validates by HTTP-01 whether or not ownership was proven to us.
    forced = await (await client.post(f"/api/certs/{host}/renew?force=1", headers=auth)).json()
    assert forced["present"] is True, forced
