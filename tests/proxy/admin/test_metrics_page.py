"""`/metrics` of the admin listener shows the certificates and tracking hosts stored in
the data folder, read at the scrape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

import trustme
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from certs.store import CertState, CertStore
from config import Settings
from proxy.admin.app import build_admin_app
from proxy.data_folder import admin_token
from proxy.domains.status import DnsAnswer
from tests.support.domain_world import HTTP_OK, store_checked_host

Client = TestClient[web.Request, web.Application]
ClientMaker = Callable[[web.Application], Awaitable[Client]]
ELSEWHERE = DnsAnswer(("elsewhere.example.net",))


async def test_metrics_show_certificates_and_hosts(
    settings: Settings, aiohttp_client: ClientMaker
) -> None:
    issued = trustme.CA().issue_cert("links.example.com")
    chain = b"".join(blob.bytes() for blob in issued.cert_chain_pems)
    certs = CertStore(settings.data)
    links, new = "links.example.com", "new.example.com"
    state = certs.save(links, chain, issued.private_key_pem.bytes(), CertState(links))
    assert state.not_after is not None
    certs.put_state(replace(state, renew_at=state.not_after - 3600))
    # a host whose first orders failed: no certificate yet
    certs.put_state(CertState(new, last_error="timeout", failures=2))
    store_checked_host(settings, links, https=HTTP_OK, checked_at=1_800_000_000.0)
    store_checked_host(settings, new, dns=ELSEWHERE, checked_at=1_800_000_100.0)

    client = await aiohttp_client(build_admin_app(settings, admin_token(settings.data)))
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain;")
    text = await resp.text()
    # The whole page parses; every value by name and labels.
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float | None:
        return values.get((name, tuple(sorted(labels.items()))))

    not_after = x509.load_pem_x509_certificate(chain).not_valid_after_utc.timestamp()
    assert value("trackway_certificate_expiry_timestamp_seconds", host=links) == not_after
    assert value("trackway_certificate_renew_at_timestamp_seconds", host=links) == not_after - 3600
    assert value("trackway_certificate_expiry_timestamp_seconds", host=new) is None
    assert value("trackway_certificate_renewal_failures", host=links) == 0
    assert value("trackway_certificate_renewal_failures", host=new) == 2
    assert value("trackway_certificate_renewal_blocked", host=new) == 0
    for check in ("ownership", "cname", "http", "https"):
        assert value("trackway_domain_check_ok", host=links, check=check) == 1
    assert value("trackway_domain_check_ok", host=new, check="cname") == 0
    assert value("trackway_domain_check_state", host=new, check="cname", state="wrong") == 1
    assert value("trackway_domain_checked_timestamp_seconds", host=new) == 1_800_000_100
    assert value("trackway_spool_bytes") == 0


async def test_a_damaged_domain_store_leaves_the_other_metrics(
    settings: Settings, aiohttp_client: ClientMaker
) -> None:
    settings.data.mkdir(parents=True)
    (settings.data / "domains.db").write_bytes(b"not a database" * 100)
    client = await aiohttp_client(build_admin_app(settings, admin_token(settings.data)))
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert "trackway_spool_bytes" in await resp.text()
