"""`trackway domains …` and the admin API's `/api/domains` on a world on loopback."""

from __future__ import annotations

import json
from typing import Any

from proxy.admin.app import build_admin_app
from proxy.data_folder import admin_token
from proxy.domains.service import TXT_PREFIX
from tests.support.domain_world import DEFAULT_BASE, US, run_cli


async def test_cli_add_verify_status_rewrite_remove(world_factory: Any) -> None:
    world = await world_factory()
    code, out, err = await run_cli(world, "domains", "add", "example.com", "links.example.com")
    assert code == 0, err
    assert "_trackway.example.com  TXT" in out
    assert f"links.example.com  CNAME  {US}" in out
    token = out.split(f'"{TXT_PREFIX}', 1)[1].split('"', 1)[0]
    world.dns.set_txt("_trackway.example.com", f"{TXT_PREFIX}{token}")

    code, out, _ = await run_cli(world, "domains", "verify", "example.com")
    assert code == 1  # no CNAME yet
    world.dns.set_cname("links.example.com", US)
    code, out, _ = await run_cli(world, "domains", "verify", "example.com")
    assert code == 0, out

    code, out, _ = await run_cli(world, "domains", "status", "links.example.com", "--json")
    doc = json.loads(out)
    assert (doc["cname"], doc["http"], doc["https"], doc["link_base"]) == (
        "ok",
        "green",
        "off",
        "http://links.example.com",
    )
    assert "reasons" in doc
    code, out, _ = await run_cli(world, "domains", "status", "example.com", "--json")
    assert json.loads(out)["link_base"] == "http://links.example.com"

    page = world.settings.data.parent / "page.html"
    page.write_text('<a href="https://shop.example.com/">x</a>')
    code, out, err = await run_cli(world, "rewrite", str(page), "--domain", "example.com")
    assert code == 0, err
    assert 'href="http://links.example.com/c/' in out
    code, out, _ = await run_cli(
        world, "rewrite", str(page), "--domain", "example.com", "--base-url", "https://x.example"
    )
    assert 'href="https://x.example/c/' in out

    code, out, _ = await run_cli(world, "domains", "list")
    assert "links.example.com" in out
    code, out, _ = await run_cli(world, "domains", "remove", "links.example.com")
    assert code == 0
    code, out, _ = await run_cli(world, "rewrite", str(page), "--domain", "example.com")
    assert f'href="{DEFAULT_BASE}/c/' in out
    code, _, err = await run_cli(world, "domains", "status", "nope.example.org")
    assert code == 1
    assert "no domain" in err


async def test_admin_api_domains(world_factory: Any, aiohttp_client: Any) -> None:
    world = await world_factory()
    world.dns.set_cname("links.example.com", US)
    token = admin_token(world.settings.data)
    client = await aiohttp_client(build_admin_app(world.settings, token))
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/domains")).status == 401
    resp = await client.post(
        "/api/domains", json={"domain": "example.com", "host": "links.example.com"}, headers=auth
    )
    assert resp.status == 201
    doc = await resp.json()
    assert doc["ownership"] == "unverified"
    world.prove_ownership()
    doc = await (await client.post("/api/domains/example.com/verify", headers=auth)).json()
    assert doc["link_base"] == "http://links.example.com"
    doc = await (await client.get("/api/domains/links.example.com", headers=auth)).json()
    assert doc["cname"] == "ok"
    listed = await (await client.get("/api/domains", headers=auth)).json()
    assert [d["domain"] for d in listed["domains"]] == ["example.com"]
    bad = await client.post("/api/domains", data=b"not json", headers=auth)
    assert bad.status == 400
    bad = await client.post(
        "/api/domains", json={"domain": "example.com", "host": "x.other.org"}, headers=auth
    )
    assert bad.status == 400
    assert (await client.delete("/api/domains/links.example.com", headers=auth)).status == 200
    assert (await client.get("/api/domains/links.example.com", headers=auth)).status == 404
