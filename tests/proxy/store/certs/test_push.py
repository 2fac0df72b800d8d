"""This folder's certificates pushed to the database: a folder under certs/ that is no
host name is said once and skipped (the others are shared, by `store copy` and by
`serve`); a certificate saved while the database refused writes is shared once it takes
them again, without a restart; a push with nothing new writes nothing."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import psycopg
import pytest

from certs.store import CertState, CertStore
from config import Settings, StoreSettings
from proxy.store.certs import CertMirror, copy_certificates
from proxy.store.certs.certificates import PostgresCertificates
from proxy.store.certs.database import LazyConnection
from proxy.store.sync import keep_mirrors_in_step
from tests.proxy.store.certs.test_outage import shared_chain, until
from tests.proxy.store.certs.test_shared_store import HOST, certificate

SAVED = "saved.example.com"
BAD = ("Example.com", "_wildcard.example.com")  # sorted before HOST: pushed first


def with_bad_folders(data: Path) -> tuple[bytes, bytes]:
    pem = certificate(90)
    CertStore(data).save(HOST, *pem, CertState(HOST))
    for name in BAD:
        folder = data / "certs" / name
        folder.mkdir(mode=0o700)
        (folder / "cert.pem").write_bytes(pem[0])
        (folder / "key.pem").write_bytes(pem[1])
    return pem


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_store_copy_skips_a_folder_that_is_no_host_name(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data=tmp_path / "data")
    pem = with_bad_folders(settings.data)
    with caplog.at_level(logging.WARNING, "trackway.certs"):
        assert copy_certificates(settings, postgres_url)["certificates"] == 1
    said = warnings(caplog)
    assert len(said) == 2
    for name, line in zip(BAD, said, strict=True):
        assert name in line
        assert "skipped" in line
    assert shared_chain(postgres_url, HOST) == pem[0]


def test_a_push_says_a_bad_folder_once_and_writes_nothing_new(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    with_bad_folders(data)
    db = LazyConnection(postgres_url)
    try:
        mirror = CertMirror(PostgresCertificates(db), CertStore(data))
        with caplog.at_level(logging.WARNING, "trackway.certs"):
            assert mirror.push() == 1
            written = last_version(postgres_url)
            assert mirror.push() == 0
        assert last_version(postgres_url) == written  # not even tried
        assert len(warnings(caplog)) == 2  # each bad folder said once
    finally:
        db.close()


def last_version(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT last_value FROM certificate_versions").fetchone()
    assert row is not None
    return int(row[0])


async def test_a_certificate_saved_while_writes_were_refused_is_shared_later(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data=tmp_path / "here", store=StoreSettings(url=postgres_url))
    mirroring = asyncio.create_task(keep_mirrors_in_step(settings, poll=0.1))
    name = postgres_url.rsplit("/", 1)[1]
    try:
        await until(lambda: (settings.data / "keys.json").exists(), 10)  # in step: pushed
        await asyncio.sleep(0.5)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        manager = LazyConnection(postgres_url)  # a new session: its writes are refused
        saved = certificate(60)
        try:
            with caplog.at_level(logging.WARNING, "trackway.certs"):
                here = CertStore(settings.data, PostgresCertificates(manager))
                here.save(SAVED, *saved, CertState(SAVED))
        finally:
            manager.close()
        assert "kept on this server only for now" in caplog.text
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SET default_transaction_read_only = off")
            admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        await until(lambda: shared_chain(postgres_url, SAVED) == saved[0], 15)
    finally:
        mirroring.cancel()
        with pytest.raises(asyncio.CancelledError):
            await mirroring
