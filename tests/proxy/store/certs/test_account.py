"""One ACME account for the cluster, against Pebble: a server that finds no
registration for the shared key (another registered it a moment ago) uses the
account the CA already has for that key rather than failing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from certs.acme_issuer import AcmeIssuer
from config import AcmeSettings
from proxy.store.certs.account import PostgresAccount
from proxy.store.certs.database import LazyConnection
from tests.support.challtestsrv import ChallTestSrv, free_port
from tests.support.pebble import Pebble


@pytest.fixture
def pebble(tmp_path: Path) -> Iterator[Pebble]:
    with (
        ChallTestSrv(tmp_path / "challtestsrv.log") as dns,
        Pebble(tmp_path / "pebble", dns=dns.nameserver, http_port=free_port()) as ca,
    ):
        yield ca


def test_two_servers_registering_at_once_share_one_account(
    pebble: Pebble, postgres_url: str, tmp_path: Path
) -> None:
    settings = AcmeSettings(directory=pebble.directory, ca_bundle=str(pebble.ca_file))
    db = LazyConnection(postgres_url)
    try:
        account = PostgresAccount(db)
        first = AcmeIssuer(settings, tmp_path / "one", account)._acme().net.account
        # The second server read "no registration" before the first saved it.
        account.forget_registration(pebble.directory)
        second = AcmeIssuer(settings, tmp_path / "two", account)._acme().net.account
        assert first is not None
        assert second is not None
        assert second.uri == first.uri
        assert account.registration(pebble.directory) is not None  # saved again
    finally:
        db.close()
    assert not (tmp_path / "one").exists()  # nothing of the account in a data folder
