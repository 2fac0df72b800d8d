"""Custom tracking domains against real servers on loopback: pebble-challtestsrv as DNS,
our public listener on the HTTP check port, real HTTPS servers with a test CA."""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from config import CheckSettings, DnsSettings, Settings
from proxy.domains.checks import CHECK_PATH
from proxy.domains.service import TXT_PREFIX, DomainError, DomainService
from proxy.senders import rewriter_for
from proxy.serve.public_app import PublicService
from redirector import SendContext
from tests.support.challtestsrv import ChallTestSrv, free_port

US = "t.trackway.example"
EU = "t-eu.trackway.example"
DEFAULT_BASE = f"https://{US}"


@pytest.fixture(scope="module")
def dns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChallTestSrv]:
    with ChallTestSrv(tmp_path_factory.mktemp("dns") / "challtestsrv.log") as server:
        yield server


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


class World:
    """Our listener on the HTTP port, an HTTPS server with a test certificate, and
    settings that send every check through the test DNS to them."""

    def __init__(self, settings: Settings, dns: ChallTestSrv) -> None:
        self.settings = settings
        self.dns = dns
        self.sts: dict[str, str] = {}  # host -> Strict-Transport-Security it serves
        self.https_answers_checks = True
        self.runners: list[web.BaseRunner] = []
        self.listeners: list[asyncio.Server] = []
        self.public: PublicService | None = None

    async def start(self, ca: trustme.CA, https: str) -> None:
        self.public = PublicService(self.settings)
        await self.public.start()
        self.listeners.append(
            await self.public.listen("127.0.0.1", self.settings.checks.http_port)
        )
        if https == "off":
            return
        names = ["links.example.com", "example.com", "links.example.dev", "example.dev"]
        cert = ca.issue_cert(*(names if https == "green" else ["other.example.org"]))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        await self._serve(self._https_handler, self.settings.checks.https_port, context)

    async def _https_handler(self, request: web.BaseRequest) -> web.StreamResponse:
        assert self.public is not None
        if request.path.startswith(CHECK_PATH) and self.https_answers_checks:
            return await self.public.handler(request)
        header = self.sts.get(request.url.host or "")
        return web.Response(
            text="hello", headers={"Strict-Transport-Security": header} if header else {}
        )

    async def _serve(self, handler: Any, port: int, context: ssl.SSLContext | None) -> None:
        runner = web.ServerRunner(web.Server(handler))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
        self.runners.append(runner)

    async def stop(self) -> None:
        for runner in self.runners:
            await runner.cleanup()
        for listener in self.listeners:
            listener.close()
        if self.public is not None:
            await self.public.close()

    def service(self) -> DomainService:
        return DomainService(self.settings)

    def prove_ownership(self, domain: str = "example.com") -> None:
        service = self.service()
        record = service.describe(domain)["txt_record"]
        service.close()
        self.dns.set_txt(record["name"], record["value"])


@pytest.fixture
async def world_factory(tmp_path: Path, dns: ChallTestSrv, ca: trustme.CA) -> AsyncIterator[Any]:
    worlds: list[World] = []
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def make(https: str = "off", http_port: int | None = None) -> World:
        settings = Settings(
            data=tmp_path / f"data{len(worlds)}",
            regions={"us": US, "eu": EU},
            dns=DnsSettings(nameservers=(dns.nameserver,), timeout=1.0),
            checks=CheckSettings(
                http_port=http_port or free_port(),
                https_port=free_port(),
                ca_bundle=str(ca_file),
                timeout=3,
            ),
        )
        world = World(settings, dns)
        worlds.append(world)
        if http_port is None:
            await world.start(ca, https)
        return world

    yield make
    for world in worlds:
        await world.stop()
    for host in ("links.example.com", "links.example.dev"):
        dns.clear_cname(host)
        dns.clear_servfail(host)
    dns.clear_txt("_trackway.example.com")
    dns.clear_txt("_trackway.example.dev")


async def add_and_verify(
    world: World, domain: str = "example.com", host: str = "links.example.com"
) -> dict[str, Any]:
    service = world.service()
    try:
        service.add(domain, host)
        world.prove_ownership(domain)
        await service.verify(domain)
        return service.describe(host)
    finally:
        service.close()


async def test_cname_ok_http_green_gives_http_links(world_factory: Any) -> None:
    world = await world_factory()
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert (status["ownership"], status["cname"], status["http"], status["https"]) == (
        "verified",
        "ok",
        "green",
        "off",
    )
    assert status["link_base"] == "http://links.example.com"
    service = world.service()
    assert service.link_base("example.com") == "http://links.example.com"
    service.close()
    # The Python API for senders picks the same base.
    rewriter = rewriter_for(world.settings, domain="example.com")
    result = rewriter.rewrite_html(
        '<a href="https://shop.example.com/">', SendContext("m", "r", 0)
    )
    assert result.body.startswith('<a href="http://links.example.com/c/')
    explicit = rewriter_for(world.settings, domain="example.com", base_url="https://x.example")
    assert explicit.signer.base_url == "https://x.example"


async def test_https_green_gives_https_links(world_factory: Any) -> None:
    world = await world_factory(https="green")
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert (status["cname"], status["http"], status["https"]) == ("ok", "green", "green")
    assert status["link_base"] == "https://links.example.com"


async def test_https_failing_with_a_wrong_certificate(world_factory: Any) -> None:
    world = await world_factory(https="wrong-name")
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert status["https"] == "failing"
    assert "certificate" in status["reasons"]["https"].lower()
    assert (
        status["link_base"] == "http://links.example.com"
    )  # never a link to a broken certificate


async def test_hsts_on_a_parent_domain_makes_http_red(world_factory: Any) -> None:
    world = await world_factory(https="wrong-name")
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert status["http"] == "green"  # the wrong certificate: no browser would take its header
    world = await world_factory(https="green")
    world.sts["example.com"] = "max-age=31536000; includeSubDomains"
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert status["http"] == "red"
    assert "example.com" in status["reasons"]["http"]
    assert "includeSubDomains" in status["reasons"]["http"]
    assert status["link_base"] == "https://links.example.com"  # https is green here


async def test_hsts_without_working_https_falls_back_to_the_default_host(
    world_factory: Any,
) -> None:
    world = await world_factory(https="green")
    world.sts["example.com"] = "max-age=600; includeSubDomains"
    world.https_answers_checks = False  # a certificate, but not this server behind it
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert (status["http"], status["https"]) == ("red", "failing")
    assert status["link_base"] == DEFAULT_BASE


async def test_parent_policy_without_include_subdomains_does_not_apply(world_factory: Any) -> None:
    world = await world_factory(https="wrong-name")
    world.sts["example.com"] = "max-age=600"
    world.dns.set_cname("links.example.com", US)
    assert (await add_and_verify(world))["http"] == "green"


async def test_preloaded_tld_is_caught_offline(world_factory: Any) -> None:
    world = await world_factory()
    world.dns.set_cname("links.example.dev", US)
    status = await add_and_verify(world, "example.dev", "links.example.dev")
    assert status["http"] == "red"
    assert "preload" in status["reasons"]["http"]
    assert status["link_base"] == DEFAULT_BASE


@pytest.mark.parametrize(
    ("dns_setup", "cname"),
    [("none", "missing"), ("wrong", "wrong"), ("servfail", "error")],
)
async def test_cname_problems_fall_back(world_factory: Any, dns_setup: str, cname: str) -> None:
    world = await world_factory()
    if dns_setup == "wrong":
        world.dns.set_cname("links.example.com", "elsewhere.example.net")
    elif dns_setup == "servfail":
        world.dns.set_servfail("links.example.com")
    status = await add_and_verify(world)
    assert status["cname"] == cname
    assert status["link_base"] == DEFAULT_BASE
    if cname == "wrong":
        assert status["cname_target"] == "elsewhere.example.net"
    if cname == "error":
        assert "SERVFAIL" in status["reasons"]["cname"]


async def test_http_unreachable(world_factory: Any) -> None:
    world = await world_factory(http_port=free_port())  # nothing listens there
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert status["http"] == "unreachable"
    assert status["link_base"] == DEFAULT_BASE


async def test_unverified_sending_domain_uses_the_default_host(world_factory: Any) -> None:
    world = await world_factory()
    world.dns.set_cname("links.example.com", US)
    service = world.service()
    service.add("example.com", "links.example.com")
    world.dns.set_txt("_trackway.example.com", f"{TXT_PREFIX}someone-else")
    await service.verify("example.com")
    doc = service.describe("example.com")
    service.close()
    assert doc["ownership"] == "unverified"
    assert "not this domain's token" in doc["ownership_error"]
    assert doc["link_base"] == DEFAULT_BASE


async def test_revert_when_the_cname_moves_away_or_the_host_is_removed(world_factory: Any) -> None:
    world = await world_factory()
    world.dns.set_cname("links.example.com", US)
    assert (await add_and_verify(world))["link_base"] == "http://links.example.com"
    world.dns.set_cname("links.example.com", "gone.nonexistent.example")
    service = world.service()
    await service.verify("links.example.com")
    assert service.link_base("example.com") == DEFAULT_BASE
    world.dns.set_cname("links.example.com", US)
    await service.verify("example.com")
    assert service.link_base("example.com") == "http://links.example.com"
    service.remove("links.example.com")
    assert service.link_base("example.com") == DEFAULT_BASE
    service.close()


async def test_region_sets_the_cname_target(world_factory: Any) -> None:
    world = await world_factory()
    world.dns.set_cname("links.example.com", US)
    service = world.service()
    service.add("example.com", "links.example.com", region="eu")
    world.prove_ownership()
    (status,) = await service.verify("example.com")
    assert status.cname == "wrong"  # an eu host must point at the eu default
    assert status.link_base == f"https://{EU}"
    world.dns.set_cname("links.example.com", EU)
    (status,) = await service.verify("example.com")
    assert status.cname == "ok"
    service.close()


async def test_bad_input_is_a_clear_error(world_factory: Any) -> None:
    world = await world_factory(http_port=free_port())
    service = world.service()
    with pytest.raises(DomainError, match=r"not example\.com or a subdomain"):
        service.add("example.com", "links.other.org")
    with pytest.raises(DomainError, match="not a valid domain"):
        service.add("exa mple.com")
    with pytest.raises(DomainError, match="not a URL"):
        service.add("https://example.com/")
    with pytest.raises(DomainError, match="unknown region"):
        service.add("example.com", "links.example.com", region="mars")
    with pytest.raises(DomainError, match="no domain"):
        await service.verify("nothing.example.org")
    service.close()
    bare = DomainService(dataclasses.replace(world.settings, regions={}))
    with pytest.raises(DomainError, match="no regions"):
        bare.add("example.com", "links.example.com")
    bare.close()


async def run_cli(world: World, *args: str) -> tuple[int, str, str]:
    import asyncio
    import json as _json
    import os
    import sys

    checks = world.settings.checks
    config = world.settings.data.parent / f"{world.settings.data.name}.toml"
    config.write_text(
        f'[regions]\nus = "{US}"\neu = "{EU}"\n'
        f"[dns]\nnameservers = {_json.dumps(list(world.settings.dns.nameservers))}\ntimeout = 1.0\n"
        f"[checks]\nhttp_port = {checks.http_port}\nhttps_port = {checks.https_port}\n"
        f"ca_bundle = {_json.dumps(checks.ca_bundle)}\ntimeout = 3\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.cli", *args, "--data", str(world.settings.data), "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_cli_add_verify_status_rewrite_remove(world_factory: Any) -> None:
    import json as _json

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
    doc = _json.loads(out)
    assert (doc["cname"], doc["http"], doc["https"], doc["link_base"]) == (
        "ok",
        "green",
        "off",
        "http://links.example.com",
    )
    assert "reasons" in doc
    code, out, _ = await run_cli(world, "domains", "status", "example.com", "--json")
    assert _json.loads(out)["link_base"] == "http://links.example.com"

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
    from proxy.admin.app import build_admin_app
    from proxy.data_folder import admin_token

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
