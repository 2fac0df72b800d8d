"""Two servers' certificate managers on one database (separate data folders): one
order per certificate between them, and a holder whose lease was taken over drops
its result. The CA is a seam here (Pebble: test_two_servers.py)."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme

from certs.lease import Leases, SqliteLeases
from certs.store import CertStore
from config import AcmeSettings, Settings, StoreSettings
from proxy.store.certs import open_cert_manager
from proxy.store.certs.certificates import PostgresCertificates
from proxy.store.certs.database import LazyConnection
from proxy.store.certs.leases import PostgresLeases
from tests.support.postgres import lapse_leases

HOST = "links.example.com"
NOW = time.time()  # the certificates are made for now


class ScriptedCa:
    """An issuer: a fresh certificate per order, `during()` run while it orders."""

    def __init__(self, during: Callable[[], None] = lambda: None) -> None:
        self.orders: list[str] = []
        self.during = during
        self.ca = trustme.CA()

    def issue(self, host: str) -> tuple[bytes, bytes]:
        self.orders.append(host)
        self.during()
        now = datetime.datetime.now(datetime.UTC)
        issued = self.ca.issue_cert(
            host, not_before=now, not_after=now + datetime.timedelta(days=90)
        )
        chain = b"".join(blob.bytes() for blob in issued.cert_chain_pems)
        return chain, issued.private_key_pem.bytes()

    def renewal_window(self, chain_pem: bytes) -> float | None:
        return None


def server(tmp_path: Path, name: str, url: str) -> Settings:
    return Settings(
        data=tmp_path / name,
        store=StoreSettings(url=url),
        acme=AcmeSettings(directory="https://ca.example/dir"),
    )


async def test_a_certificate_renewed_by_one_is_not_ordered_again_by_another(
    tmp_path: Path, postgres_url: str
) -> None:
    ca = ScriptedCa()
    one, two = server(tmp_path, "one", postgres_url), server(tmp_path, "two", postgres_url)
    first = open_cert_manager(one, issuer=ca, clock=lambda: NOW)
    second = open_cert_manager(two, issuer=ca, clock=lambda: NOW)
    try:
        ordered = await first.ensure(HOST)
        # The second server's mirror has not pulled it yet; its manager looks first.
        assert not CertStore(two.data).has_certificate(HOST)
        seen = await second.ensure(HOST)
    finally:
        first.close()
        second.close()
    assert ca.orders == [HOST]
    assert seen == ordered
    assert CertStore(two.data).certificate(HOST) == CertStore(one.data).certificate(HOST)


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
async def test_a_result_after_the_lease_was_taken_over_is_dropped(
    tmp_path: Path, postgres_url: str, store: str
) -> None:
    settings = server(tmp_path, "one", postgres_url if store == "postgresql" else "")
    taken: list[int | None] = []

    def take_over() -> None:  # another server, once this one's lease expired
        other: Leases
        if store == "postgresql":  # expired by the database's clock
            lapse_leases(postgres_url, 3600)
            other = PostgresLeases(LazyConnection(postgres_url))
        else:
            other = SqliteLeases(settings.data)
        taken.append(other.acquire(HOST, now=NOW + 3600, seconds=600))
        other.close()

    ca = ScriptedCa(during=take_over)
    manager = open_cert_manager(settings, issuer=ca, clock=lambda: NOW)
    try:
        state = await manager.ensure(HOST)
    finally:
        manager.close()
    assert taken == [2]
    assert ca.orders == [HOST]
    assert state.not_after is None  # the result is dropped
    assert not CertStore(settings.data).has_certificate(HOST)
    if store == "postgresql":
        db = LazyConnection(postgres_url)
        try:
            assert PostgresCertificates(db).get(HOST) is None
        finally:
            db.close()
