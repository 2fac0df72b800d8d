"""`serve`'s one mirroring task and the certificates. A database that is down stops no
TLS: a server's mirror keeps its certificate files (what SNI serves), says so once,
shares what was saved meanwhile and catches up once the database is back. A mirror that
fails (a cert file that cannot be written) is said once and stops not the others."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from certs.store import CertState, CertStore
from config import Settings, StoreSettings
from proxy.domains.store import SendingDomain, SqliteDomainStore
from proxy.store.certs.certificates import PostgresCertificates
from proxy.store.certs.database import LazyConnection
from proxy.store.domains import PostgresDomainStore
from proxy.store.keys import rotate
from proxy.store.sync import keep_mirrors_in_step
from redirector.links.keystore import read_keyring
from tests.proxy.store.certs.test_shared_store import certificate
from tests.support.postgres import PostgresCluster

HOST, LATER, SAVED = "links.example.com", "later.example.com", "saved.example.com"
DOWN, BACK = "not in step with the database", "in step with the database again"


async def until(holds: Callable[[], bool], seconds: float) -> float:
    """Seconds until `holds()` is true (fails after `seconds`)."""
    started = time.monotonic()
    while not holds():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def share(url: str, host: str, pem: tuple[bytes, bytes], data: Path) -> None:
    """Another server's write (a connection of its own)."""
    db = LazyConnection(url)
    try:
        CertStore(data, PostgresCertificates(db)).save(host, *pem, CertState(host))
    finally:
        db.close()


def shared_chain(url: str, host: str) -> bytes | None:
    db = LazyConnection(url)
    try:
        row = PostgresCertificates(db).get(host)
    finally:
        db.close()
    return None if row is None else row[0]


def said(caplog: pytest.LogCaptureFixture, words: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if words in r.getMessage()]


async def test_the_mirror_serves_through_an_outage_and_catches_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trackway")
    with PostgresCluster() as cluster:  # its own: this test stops it
        url = cluster.new_database()
        settings = Settings(data=tmp_path / "here", store=StoreSettings(url=url))
        here = CertStore(settings.data)
        mirroring = asyncio.create_task(keep_mirrors_in_step(settings, poll=0.2))
        try:
            first = certificate(90)
            share(url, HOST, first, tmp_path / "other")
            await until(lambda: here.certificate(HOST) == first, 10)

            await asyncio.get_running_loop().run_in_executor(None, cluster.stop)
            saved = certificate(60)
            here.save(SAVED, *saved, CertState(SAVED))  # this server's alone, meanwhile
            await asyncio.sleep(3)  # a few steps fail meanwhile
            assert here.certificate(HOST) == first  # still served
            assert len(said(caplog, DOWN)) == 1  # said once

            await asyncio.get_running_loop().run_in_executor(None, cluster.restart)
            later = certificate(90)
            share(url, LATER, later, tmp_path / "other")
            await until(lambda: here.certificate(LATER) == later, 40)
            # Said as the step that wrote it returns: maybe a moment after the file.
            await until(lambda: len(said(caplog, BACK)) == 1, 5)
            assert shared_chain(url, SAVED) == saved[0]  # shared once it was back
            assert here.certificate(SAVED) == saved
        finally:
            mirroring.cancel()
            with pytest.raises(asyncio.CancelledError):
                await mirroring
    assert len(said(caplog, DOWN)) == 1
    assert "postgresql://" not in caplog.text  # no URL, so no password


async def test_a_mirror_that_fails_stops_not_the_others(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trackway")
    settings = Settings(data=tmp_path / "here", store=StoreSettings(url=postgres_url))
    settings.data.mkdir(mode=0o700)
    (settings.data / "certs").write_bytes(b"")  # no folder: no cert file can be written
    pem = certificate(90)
    share(postgres_url, HOST, pem, tmp_path / "other")
    shared = PostgresDomainStore(postgres_url)
    mirroring = asyncio.create_task(keep_mirrors_in_step(settings, poll=0.05))
    try:
        await until(lambda: (settings.data / "keys.json").exists(), 10)
        other = Settings(data=tmp_path / "other", store=StoreSettings(url=postgres_url))
        new = await asyncio.to_thread(rotate, other, int(time.time()))
        shared.put_domain(SendingDomain("example.com", "t", True, 1.0))
        local = SqliteDomainStore(settings.data)
        try:
            await until(lambda: [d.name for d in local.domains()] == ["example.com"], 10)
        finally:
            local.close()
        await until(lambda: read_keyring(settings.data).signing_key == new, 10)
        await asyncio.sleep(0.5)  # more steps, the certificate failing at each
        failed = said(caplog, "certificates from the database failed")
        assert len(failed) == 1  # said once
        assert failed[0].exc_info is not None  # with its cause

        (settings.data / "certs").unlink()
        await until(lambda: CertStore(settings.data).certificate(HOST) == pem, 10)
        assert len(said(caplog, "certificates from the database in step again")) == 1
    finally:
        shared.close()
        mirroring.cancel()
        with pytest.raises(asyncio.CancelledError):
            await mirroring
    assert not said(caplog, DOWN)  # the database never was down
