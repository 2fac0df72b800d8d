"""Fixtures of the domain tests: the test DNS, a test CA, and worlds on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from config import CheckSettings, DnsSettings, ProxySettings, Settings
from tests.support.challtestsrv import ChallTestSrv, free_port
from tests.support.challtestsrv import dns as dns
from tests.support.domain_world import EU, LOOPBACK, US, World


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def world_factory(tmp_path: Path, dns: ChallTestSrv, ca: trustme.CA) -> AsyncIterator[Any]:
    """`await world_factory(https="off"|"green"|"wrong-name", http_port=None)`: a started
    world, or with `http_port` one whose HTTP port nothing listens on (`https_port`
    likewise). Its checks may connect to loopback (`allowed`), where it answers."""
    worlds: list[World] = []
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def make(
        https: str = "off",
        http_port: int | None = None,
        https_port: int | None = None,
        allowed: tuple[str, ...] = LOOPBACK,
        proxy_trusts_ca: bool = True,
    ) -> World:
        settings = Settings(
            data=tmp_path / f"data{len(worlds)}",
            regions={"us": US, "eu": EU},
            dns=DnsSettings(nameservers=(dns.nameserver,), timeout=1.0),
            checks=CheckSettings(
                http_port=http_port or free_port(),
                https_port=https_port or free_port(),
                ca_bundle=str(ca_file),
                timeout=3,
                allowed_networks=allowed,
            ),
            proxy=ProxySettings(ca_bundle=str(ca_file) if proxy_trusts_ca else ""),
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
