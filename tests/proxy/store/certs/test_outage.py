"""A database that is down stops no TLS: a server's mirror keeps its certificate files
(what SNI serves), says so once, and catches up once the database is back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from certs.store import CertState, CertStore
from config import Settings, StoreSettings
from proxy.store.certs import keep_mirroring
from proxy.store.certs.certificates import PostgresCertificates
from proxy.store.certs.database import LazyConnection
from tests.proxy.store.certs.test_shared_store import certificate
from tests.support.postgres import PostgresCluster

HOST, LATER = "links.example.com", "later.example.com"


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


async def test_the_mirror_serves_through_an_outage_and_catches_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "trackway.certs")
    with PostgresCluster() as cluster:  # its own: this test stops it
        url = cluster.new_database()
        settings = Settings(data=tmp_path / "here", store=StoreSettings(url=url))
        here = CertStore(settings.data)
        mirroring = asyncio.create_task(keep_mirroring(settings))
        try:
            first = certificate(90)
            share(url, HOST, first, tmp_path / "other")
            await until(lambda: here.certificate(HOST) == first, 10)

            await asyncio.get_running_loop().run_in_executor(None, cluster.stop)
            await asyncio.sleep(3)  # a few pulls fail meanwhile
            assert here.certificate(HOST) == first  # still served
            down = [r for r in caplog.records if "copies meanwhile" in r.getMessage()]
            assert len(down) == 1  # said once

            await asyncio.get_running_loop().run_in_executor(None, cluster.restart)
            later = certificate(90)
            share(url, LATER, later, tmp_path / "other")
            await until(lambda: here.certificate(LATER) == later, 40)
            assert any("back, caught up" in r.getMessage() for r in caplog.records)
        finally:
            mirroring.cancel()
            with pytest.raises(asyncio.CancelledError):
                await mirroring
