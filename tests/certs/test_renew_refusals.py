"""`certs renew` and `POST /api/certs/{host}/renew` refuse a host that is not ready for
a certificate, with the reason, before anything reaches the CA; forced, they order.

The CA here is a port nothing listens on: an order that tried would fail and leave its
failure in the host's state (and the account key it signs with in the data folder)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from certs.store import CertStore
from config import AcmeSettings, Settings
from proxy.admin.app import build_admin_app
from proxy.data_folder import admin_token
from proxy.domains.status import DnsAnswer
from tests.support.challtestsrv import free_port
from tests.support.domain_world import US, store_checked_host

Client = TestClient[web.Request, web.Application]
ClientMaker = Callable[[web.Application], Awaitable[Client]]
HOST = "links.example.com"
NOT_READY = (
    f"{HOST} is not ready for a certificate: CNAME points at x.example.net, not {US} "
    f"(once fixed, check again with `trackway domains verify {HOST}`; "
    "or order anyway with force: `--force`, `?force=1`)"
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A tracking host whose CNAME points elsewhere, and a CA that is not there."""
    dead_ca = AcmeSettings(directory=f"http://127.0.0.1:{free_port()}/directory")
    settings = Settings(data=tmp_path / "data", regions={"us": US}, acme=dead_ca)
    store_checked_host(settings, HOST, dns=DnsAnswer(("x.example.net",)))
    return settings


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    config = settings.data.parent / "trackway.toml"
    config.write_text(f'[regions]\nus = "{US}"\n[acme]\ndirectory = "{settings.acme.directory}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", *args, "--data", str(settings.data),
         "--config", str(config)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def ca_contacted(settings: Settings, host: str) -> bool:
    return CertStore(settings.data).state(host).failures > 0


def nothing_ordered(settings: Settings) -> bool:
    return not (settings.data / "certs").exists() and not (settings.data / "acme").exists()


def test_cli_refuses_with_the_reason_and_forced_orders(settings: Settings) -> None:
    refused = cli(settings, "certs", "renew", HOST)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == f"trackway: {NOT_READY}\n"
    assert nothing_ordered(settings)

    forced = cli(settings, "certs", "renew", HOST, "--force")
    assert forced.returncode == 1, forced.stderr  # the CA is not there
    assert f"{HOST}: no certificate" in forced.stdout
    assert "last error:" in forced.stdout
    assert ca_contacted(settings, HOST)


def test_cli_unknown_host_and_hosts_without_a_record(settings: Settings) -> None:
    unknown = cli(settings, "certs", "renew", "nothing.example.com", "--force")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("trackway: no tracking host or certificate nothing.")
    assert nothing_ordered(settings)
    # A region's default host: the running server decides whether it answers for it.
    region = cli(settings, "certs", "renew", US)
    assert region.returncode == 1, region.stderr  # the CA is not there
    assert ca_contacted(settings, US)


async def test_api_refuses_with_the_reason_and_forced_orders(
    settings: Settings, aiohttp_client: ClientMaker
) -> None:
    token = admin_token(settings.data)
    client = await aiohttp_client(build_admin_app(settings, token))
    auth = {"Authorization": f"Bearer {token}"}

    refused = await client.post(f"/api/certs/{HOST}/renew", headers=auth)
    assert refused.status == 409
    assert await refused.json() == {"error": NOT_READY}
    unknown = await client.post("/api/certs/nothing.example.com/renew?force=1", headers=auth)
    assert unknown.status == 404
    bad = await client.post(f"/api/certs/{HOST}/renew?force=perhaps", headers=auth)
    assert bad.status == 400
    assert "force" in (await bad.json())["error"]
    assert nothing_ordered(settings)

    forced = await client.post(f"/api/certs/{HOST}/renew?force=1", headers=auth)
    assert forced.status == 200
    doc = await forced.json()
    assert doc["host"] == HOST
    assert doc["present"] is False
    assert doc["last_error"]  # the CA is not there
    assert ca_contacted(settings, HOST)


async def test_a_host_with_a_certificate_and_no_record_stays_renewable(
    settings: Settings, aiohttp_client: ClientMaker
) -> None:
    store = CertStore(settings.data)
    folder = store.folder("old.example.net")
    folder.mkdir(parents=True)
    (folder / "cert.pem").write_text("put here by hand\n")
    (folder / "key.pem").write_text("put here by hand\n")
    token = admin_token(settings.data)
    client = await aiohttp_client(build_admin_app(settings, token))
    renewed = await client.post(
        "/api/certs/old.example.net/renew", headers={"Authorization": f"Bearer {token}"}
    )
    assert renewed.status == 200
    assert ca_contacted(settings, "old.example.net")
