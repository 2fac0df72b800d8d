"""Every file trackway writes is 0600 and every folder 0700; a data folder open to
others is closed at start, and said so."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from certs.lease import SqliteLeases as Leases
from certs.store import CertStore
from config.datafolder import ensure_data_dir
from proxy.domains.store import SqliteDomainStore
from redirector.recording.event_store import SqliteEventStore
from tests.proxy.cli.test_cli import trackway
from tests.proxy.serve.test_serve import click_all, tokens
from tests.support.challtestsrv import ChallTestSrv
from tests.support.serve_stack import US, serve_stack


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[ChallTestSrv]:
    with ChallTestSrv(tmp_path / "challtestsrv.log") as server:
        yield server


def modes(folder: Path) -> dict[str, str]:
    """Each folder and file under `folder` (itself too) and its mode, octal."""
    found = {".": oct(stat.S_IMODE(folder.stat().st_mode))}
    for path in folder.rglob("*"):
        with_mode = path.lstat()
        if not stat.S_ISLNK(with_mode.st_mode):
            found[str(path.relative_to(folder))] = oct(stat.S_IMODE(with_mode.st_mode))
    return found


def private(found: dict[str, str], folder: Path) -> dict[str, str]:
    """What is not as it should be: folders 0700, files 0600."""
    return {
        name: mode
        for name, mode in found.items()
        if mode != ("0o700" if (folder / name).is_dir() else "0o600")
    }


def test_everything_serve_writes_is_private(tmp_path: Path, dns: ChallTestSrv) -> None:
    with serve_stack(tmp_path, dns) as stack:
        stack.until(lambda doc: bool(doc["present"]), 30, "certs", "show", US)  # acme, lease
        answered: list[str] = []
        asyncio.run(click_all(stack.server.url, tokens(stack.data, 3), answered))
        assert len(answered) == 3  # a spool file, then the database
        stack.add_verified_host("example.com", "links.example.com")  # domains.db
        found = modes(stack.data)
        for made in ("trackway.db", "trackway.db-wal", "domains.db", "certs", "acme", "spool"):
            assert made in found
        assert any(name.startswith("certs/leases.db") for name in found)
        assert any(name.startswith(f"certs/{US}/") for name in found)
        assert private(found, stack.data) == {}


def test_stores_opened_by_an_application_are_private(tmp_path: Path) -> None:
    # No `trackway` command set the umask: the stores make their files private themselves.
    previous = os.umask(0o022)
    try:
        data = ensure_data_dir(tmp_path / "deep" / "data")
        SqliteEventStore(data / "trackway.db").close()
        SqliteDomainStore(data).close()
        Leases(data).conn.close()
        CertStore(data).bump_generation()
    finally:
        os.umask(previous)
    found = modes(tmp_path / "deep")
    made = {
        "data/trackway.db",
        "data/domains.db",
        "data/certs/leases.db",
        "data/certs/.generation",
    }
    assert made <= set(found)
    assert private(found, tmp_path / "deep") == {}


def test_a_data_folder_open_to_others_is_closed_and_said_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    done = trackway("keys", "list", data=data)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert done.stderr.decode() == (
        f"trackway: the data folder {data} was open to others (0755): now 0700\n"
    )
    again = trackway("keys", "list", data=data)
    assert again.stderr == b""  # said once: it is private now
    assert private(modes(data), data) == {}
