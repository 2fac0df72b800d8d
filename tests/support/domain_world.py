"""A world for custom tracking domains on loopback: pebble-challtestsrv as DNS, our public
listener on the HTTP check port, an HTTPS server with a test CA's certificate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
import sys
from collections.abc import Callable
from typing import Any

import trustme
from aiohttp import web

from config import Settings
from proxy.domains.checks import CHECK_PATH
from proxy.domains.service import DomainService, open_domain_service
from proxy.domains.status import DnsAnswer, HostChecks, HstsFinding, Probe, host_status
from proxy.domains.store import SqliteDomainStore, TrackingHost
from proxy.serve.listeners import bind_socket
from proxy.serve.public_app import PublicService
from tests.support.challtestsrv import ChallTestSrv

US = "t.trackway.example"
EU = "t-eu.trackway.example"
DEFAULT_BASE = f"https://{US}"
# The checks connect to no loopback address unless allowed: these worlds are there.
LOOPBACK = ("127.0.0.0/8",)
HTTP_OK = Probe(True)
CNAME_OK = DnsAnswer((US,))


class World:
    """Our listener on the HTTP port, an HTTPS server with a test certificate, and
    settings that send every check through the test DNS to them."""

    def __init__(self, settings: Settings, dns: ChallTestSrv) -> None:
        self.settings = settings
        self.dns = dns
        self.sts: dict[str, str] = {}  # host -> Strict-Transport-Security it serves
        self.https_answers_checks = True
        # What its HTTPS answers but the check path (a proxied host's request through us).
        self.https_answer: Callable[[], web.Response] = lambda: web.Response(text="hello")
        self.runners: list[web.BaseRunner] = []
        self.listeners: list[asyncio.Server] = []
        self.public: PublicService | None = None

    async def start(self, ca: trustme.CA, https: str) -> None:
        self.public = PublicService(self.settings)
        await self.public.start()
        self.listeners.append(
            await self.public.listen(bind_socket("127.0.0.1", self.settings.checks.http_port))
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
        answer = self.https_answer()
        header = self.sts.get(request.url.host or "")
        if header:
            answer.headers["Strict-Transport-Security"] = header
        return answer

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

    def service(self) -> contextlib.AbstractContextManager[DomainService]:
        return open_domain_service(self.settings)

    def prove_ownership(self, domain: str = "example.com") -> None:
        with self.service() as service:
            record = service.describe(domain).as_dict()["txt_record"]
        self.dns.set_txt(record["name"], record["value"])


async def add_and_verify(
    world: World, domain: str = "example.com", host: str = "links.example.com"
) -> dict[str, Any]:
    """The host's status as JSON, once its domain is proven and checked."""
    with world.service() as service:
        service.add(domain, host)
        world.prove_ownership(domain)
        await service.verify(domain)
        return service.describe(host).as_dict()


async def run_cli(world: World, *args: str) -> tuple[int, str, str]:
    """`python -m proxy.cli ARGS` on the world's data folder, with a config file of its
    settings: exit status, stdout, stderr."""
    checks = world.settings.checks
    config = world.settings.data.parent / f"{world.settings.data.name}.toml"
    config.write_text(
        f'[regions]\nus = "{US}"\neu = "{EU}"\n'
        f"[dns]\nnameservers = {json.dumps(list(world.settings.dns.nameservers))}\ntimeout = 1.0\n"
        f"[checks]\nhttp_port = {checks.http_port}\nhttps_port = {checks.https_port}\n"
        f"ca_bundle = {json.dumps(checks.ca_bundle)}\ntimeout = 3\n"
        f"allowed_networks = {json.dumps(list(checks.allowed_networks))}\n"
        f"[proxy]\nca_bundle = {json.dumps(world.settings.proxy.ca_bundle)}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.cli", *args, "--data", str(world.settings.data), "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def store_checked_host(
    settings: Settings,
    host: str,
    *,
    verified: bool = True,
    dns: DnsAnswer = CNAME_OK,
    http: Probe = HTTP_OK,
    hsts: tuple[HstsFinding, ...] = (),
    https: Probe | None = None,
    checked_at: float | None = 1.0,
) -> None:
    """A tracking host of example.com (region us) as checks with these results leave it
    in the data folder, without DNS or HTTP; `checked_at=None`: never checked."""
    record = TrackingHost(host, "example.com", "us", 1.0)
    if checked_at is not None:
        checks = HostChecks(host, US, verified, dns, http, hsts, https, checked_at)
        status = host_status(checks, DEFAULT_BASE)
        record = TrackingHost(host, "example.com", "us", 1.0, checks, status, checked_at)
    store = SqliteDomainStore(settings.data)
    try:
        store.put_host(record)
    finally:
        store.close()
