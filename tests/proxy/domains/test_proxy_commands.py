"""Proxy mode on loopback: the upstream check against real upstreams (HTTP, and HTTPS with
a test CA under a name of the test DNS), `trackway domains proxy` as a real process, and
the admin API's `…/proxy`."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trustme
from aiohttp import web

from proxy.admin.app import build_admin_app
from proxy.data_folder import admin_token
from tests.support.challtestsrv import free_port
from tests.support.domain_world import US, World, add_and_verify, run_cli

HOST = "links.example.com"
PLATFORM = "platform.example"  # the test DNS answers 127.0.0.1 for every name


class Upstream:
    """A platform's tracking host on loopback that says what it received: a 302 to a
    port nothing listens on (a check that followed it would fail)."""

    def __init__(self) -> None:
        self.hosts: list[str] = []  # the Host of each request
        self.sni: list[str | None] = []
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    async def start(self, cert: trustme.LeafCert | None) -> str:
        context = None
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(context)
            context.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=context).start()
        return f"{'https' if cert else 'http'}://{PLATFORM}:{self.port}"

    async def handle(self, request: web.Request) -> web.Response:
        self.hosts.append(request.headers.get("Host", ""))
        dead = f"http://127.0.0.1:{free_port()}/"
        return web.Response(status=302, headers={"Location": dead})


@pytest.fixture
async def upstreams() -> AsyncIterator[list[Upstream]]:
    started: list[Upstream] = []
    yield started
    for upstream in started:
        if upstream.runner is not None:
            await upstream.runner.cleanup()


async def start_upstream(upstreams: list[Upstream], cert: trustme.LeafCert | None) -> str:
    upstream = Upstream()
    upstreams.append(upstream)
    return await upstream.start(cert)


async def proxied(world: World, upstream: str, host_header: str = "custom") -> dict[str, Any]:
    with world.service() as service:
        service.set_proxy(HOST, upstream, host_header)
        await service.verify(HOST)
        return service.describe(HOST).as_dict()


def forwarded() -> web.Response:
    return web.Response(status=302, headers={"Proxy-Status": "trackway; received-status=302"})


async def test_https_green_once_the_upstream_answers_as_forwarded(
    world_factory: Any, ca: trustme.CA, upstreams: list[Upstream]
) -> None:
    world = await world_factory(https="green")
    world.https_answer = forwarded  # as trackway's forwarder answers
    world.dns.set_cname(HOST, US)
    assert (await add_and_verify(world))["https"] == "green"
    url = await start_upstream(upstreams, ca.issue_cert(PLATFORM))
    doc = await proxied(world, url)
    assert (doc["mode"], doc["upstream"], doc["upstream_check"], doc["https"]) == (
        "proxy", url, "ok", "green"
    )  # fmt: skip
    assert "upstream_check" not in doc["reasons"]
    # As the forwarder sends it: the custom host as Host, the upstream's name as SNI
    # (its certificate verified against it), the 302 not followed.
    assert (upstreams[0].hosts, upstreams[0].sni) == ([HOST], [PLATFORM])
    doc = await proxied(world, url, "upstream")
    assert doc["upstream_check"] == "ok"
    assert upstreams[0].hosts[-1] == f"{PLATFORM}:{upstreams[0].port}"  # its name, its port


async def test_any_http_answer_is_an_upstream_reached(
    world_factory: Any, upstreams: list[Upstream]
) -> None:
    world = await world_factory()
    world.dns.set_cname(HOST, US)
    await add_and_verify(world)
    doc = await proxied(world, await start_upstream(upstreams, None))
    assert doc["upstream_check"] == "ok"
    assert doc["https"] == "off"  # nothing serves HTTPS for the host itself
    assert upstreams[0].hosts == [HOST]


@pytest.mark.parametrize(
    ("upstream", "reason"),
    [
        ("dead", "Cannot connect to host platform.example"),
        ("wrong-name", "certificate not trusted"),
        ("http://169.254.169.254", "169.254.169.254 is a cloud metadata address (allow it with"),
    ],
)
async def test_an_unreachable_upstream_fails_with_its_reason(
    world_factory: Any, ca: trustme.CA, upstreams: list[Upstream], upstream: str, reason: str
) -> None:
    world = await world_factory(https="green")
    world.dns.set_cname(HOST, US)
    await add_and_verify(world)
    if upstream == "dead":
        upstream = f"http://{PLATFORM}:{free_port()}"
    elif upstream == "wrong-name":
        upstream = await start_upstream(upstreams, ca.issue_cert("other.example.org"))
    doc = await proxied(world, upstream)
    assert (doc["upstream_check"], doc["https"]) == ("failing", "failing")
    assert reason in doc["reasons"]["upstream_check"]
    assert "upstream check is failing" in doc["reasons"]["https"]
    assert all(not u.hosts for u in upstreams)  # no HTTP request reached it


async def test_the_upstream_check_trusts_what_the_forwarder_trusts(
    world_factory: Any, ca: trustme.CA, upstreams: list[Upstream]
) -> None:
    """The checks' own CA bundle (for the sender's hosts) is not the proxy's: an
    upstream the forwarder would refuse is not `ok`."""
    world = await world_factory(https="green", proxy_trusts_ca=False)
    world.dns.set_cname(HOST, US)
    await add_and_verify(world)
    doc = await proxied(world, await start_upstream(upstreams, ca.issue_cert(PLATFORM)))
    assert doc["upstream_check"] == "failing"
    assert "certificate not trusted" in doc["reasons"]["upstream_check"]


@pytest.mark.parametrize(
    ("status", "headers", "reason"),
    [
        (421, {}, "answered 421, not forwarded: the server there does not proxy links."),
        (404, {}, "answered 404, not forwarded"),  # a worker not told yet: our click route
        (421, {"Proxy-Status": "trackway; error=x"}, "trackway answered 421: x"),
        (502, {"Proxy-Status": "trackway; error=connection_refused"}, "connection_refused"),
        (504, {"Proxy-Status": 'cdn, trackway; error="connection_timeout"'}, "connection_tim"),
    ],
)
async def test_https_is_green_only_when_a_request_through_us_reaches_the_upstream(
    world_factory: Any,
    ca: trustme.CA,
    upstreams: list[Upstream],
    status: int,
    headers: dict[str, str],
    reason: str,
) -> None:
    """The upstream answers the checker directly, but the request sent to the custom
    host over HTTPS (to the server there, trackway) gets trackway's own refusal."""
    world = await world_factory(https="green")
    world.https_answer = lambda: web.Response(status=status, headers=headers)
    world.dns.set_cname(HOST, US)
    await add_and_verify(world)
    doc = await proxied(world, await start_upstream(upstreams, ca.issue_cert(PLATFORM)))
    assert (doc["upstream_check"], doc["https"]) == ("failing", "failing")
    assert reason in doc["reasons"]["upstream_check"]
    assert doc["link_base"] != f"https://{HOST}"
    # The platform's own 502 (or its CDN's) passed on by us is an upstream reached.
    ours = {"Proxy-Status": "cdn; error=x, trackway; received-status=502"}
    world.https_answer = lambda: web.Response(status=502, headers=ours)
    doc = await proxied(world, f"https://{PLATFORM}:{upstreams[0].port}")
    assert (doc["upstream_check"], doc["https"], doc["link_base"]) == (
        "ok", "green", f"https://{HOST}"
    )  # fmt: skip


async def test_no_upstream_check_before_ownership_is_verified(
    world_factory: Any, upstreams: list[Upstream]
) -> None:
    world = await world_factory()
    url = await start_upstream(upstreams, None)
    with world.service() as service:
        service.add("example.com", HOST)
    doc = await proxied(world, url)
    assert doc["upstream_check"] == "unchecked"
    assert "ownership of example.com" in doc["reasons"]["upstream_check"]
    assert upstreams[0].hosts == []


async def test_cli_domains_proxy_and_off(world_factory: Any, upstreams: list[Upstream]) -> None:
    world = await world_factory()
    world.dns.set_cname(HOST, US)
    await add_and_verify(world)
    url = await start_upstream(upstreams, None)
    code, out, err = await run_cli(world, "domains", "proxy", HOST, "--upstream", url, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["mode"], doc["upstream"], doc["upstream_check"]) == ("proxy", url, "ok")
    code, out, _ = await run_cli(world, "domains", "status", HOST, "--json")
    assert json.loads(out)["mode"] == "proxy"
    code, out, _ = await run_cli(world, "domains", "status", HOST)
    assert f"proxy  to {url}: ok" in out

    page = world.settings.data.parent / "page.html"
    page.write_text('<a href="https://shop.example.com/">x</a>')
    code, out, err = await run_cli(world, "rewrite", str(page), "--domain", "example.com")
    assert (code, out) == (1, "")
    assert err == (
        f"trackway: example.com's tracking host {HOST} is in proxy mode: its links are made by "
        f"the email platform at {url}, not by trackway (`trackway domains proxy {HOST} --off` "
        "makes them trackway's again)\n"
    )

    code, out, err = await run_cli(world, "domains", "proxy", HOST, "--off", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["mode"], doc["upstream"], doc["upstream_check"]) == ("redirect", None, None)
    code, out, err = await run_cli(world, "rewrite", str(page), "--domain", "example.com")
    assert code == 0, err
    assert f'href="http://{HOST}/c/' in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--upstream", "track.customer.io"), 1, "expected http(s)://HOST[:PORT]"),
        (("--upstream", "https://x.example/path"), 1, "only a scheme, a host and a port"),
        (("--off", "--host-header", "upstream"), 1, "--host-header goes with --upstream"),
        (("--upstream", "https://x.example", "--host-header", "odd"), 2, "invalid choice"),
        ((), 2, "one of the arguments --upstream --off is required"),
        (("--upstream", "https://x.example", "--off"), 2, "not allowed with argument"),
    ],
)
async def test_cli_refuses_bad_input_in_a_line(
    world_factory: Any, args: tuple[str, ...], code: int, message: str
) -> None:
    world = await world_factory()
    with world.service() as service:
        service.add("example.com", HOST)
    done, out, err = await run_cli(world, "domains", "proxy", HOST, *args)
    assert (done, out) == (code, "")
    assert message in err
    if code == 1:
        assert err.startswith("trackway: ")
        assert err.count("\n") == 1
    done, _, err = await run_cli(world, "domains", "proxy", "nope.example.com", "--off")
    assert (done, err) == (
        1, "trackway: no tracking host nope.example.com; add it with `trackway domains add`\n"
    )  # fmt: skip


async def test_cli_help_names_the_options(world_factory: Any) -> None:
    world = await world_factory(http_port=free_port())
    code, out, _ = await run_cli(world, "domains", "proxy", "--help")
    assert code == 0
    assert all(
        word in out for word in ("--upstream URL", "--off", "--host-header {custom,upstream}")
    )


async def test_admin_api_proxy(
    world_factory: Any, aiohttp_client: Any, upstreams: list[Upstream]
) -> None:
    world = await world_factory()
    world.dns.set_cname(HOST, US)
    await add_and_verify(world)
    url = await start_upstream(upstreams, None)
    token = admin_token(world.settings.data)
    client = await aiohttp_client(build_admin_app(world.settings, token))
    auth = {"Authorization": f"Bearer {token}"}
    path = f"/api/domains/{HOST}/proxy"
    assert (await client.put(path, json={"upstream": url})).status == 401
    resp = await client.put(path, json={"upstream": url, "host_header": "upstream"}, headers=auth)
    assert resp.status == 200
    doc = await resp.json()
    assert (doc["mode"], doc["upstream"], doc["upstream_check"]) == ("proxy", url, "ok")
    assert upstreams[0].hosts == [f"{PLATFORM}:{upstreams[0].port}"]
    shown = await (await client.get(f"/api/domains/{HOST}", headers=auth)).json()
    assert shown["mode"] == "proxy"
    for body, status, error in [
        (b"not json", 400, "expected JSON"),
        (b'{"upstream": 1}', 400, "expected JSON"),
        (b'{"upstream": "ftp://x.example"}', 400, "expected http(s)://HOST"),
        (b'{"upstream": "https://x.example", "host_header": 3}', 400, '"host_header" is'),
        (b'{"upstream": "https://x.example", "host_header": "x"}', 400, "one of custom"),
    ]:
        resp = await client.put(path, data=body, headers=auth)
        assert resp.status == status
        assert error in (await resp.json())["error"]
    resp = await client.put(
        "/api/domains/nope.example.com/proxy", json={"upstream": url}, headers=auth
    )
    assert resp.status == 404
    assert (await client.delete("/api/domains/nope.example.com/proxy", headers=auth)).status == 404
    resp = await client.delete(path, headers=auth)
    assert resp.status == 200
    doc = await resp.json()
    assert (doc["mode"], doc["upstream"], doc["upstream_check"]) == ("redirect", None, None)
