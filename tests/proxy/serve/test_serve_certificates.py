"""Certificates when the operator expects them (issue 10): a verify from the CLI starts
the running server's order at once, and the regions' default hosts get theirs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.challtestsrv import ChallTestSrv
from tests.support.serve_stack import US, serve_stack


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[ChallTestSrv]:
    with ChallTestSrv(tmp_path / "challtestsrv.log") as server:
        yield server


def test_a_verify_from_the_cli_gets_the_certificate_without_waiting(
    tmp_path: Path, dns: ChallTestSrv
) -> None:
    # Default intervals: 300 s between renewal checks, an hour between domain checks.
    with serve_stack(tmp_path, dns) as stack:
        time.sleep(2)  # the server's first maintenance run is over: nothing to do yet
        stack.add_verified_host("example.com", "links.example.com")
        started = time.monotonic()
        verified = stack.cli("domains", "verify", "links.example.com")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        status = stack.until(
            lambda doc: doc["https"] == "green", 30, "domains", "status", "links.example.com"
        )
        assert time.monotonic() - started < 30
        assert status["link_base"] == "https://links.example.com"


def test_the_region_host_gets_a_certificate(tmp_path: Path, dns: ChallTestSrv) -> None:
    # The region host resolves here (the DNS answers 127.0.0.1 for every name).
    with serve_stack(tmp_path, dns) as stack:
        shown = stack.until(lambda doc: bool(doc["present"]), 30, "certs", "show", US)
        assert shown["issuer"]
        listed = stack.cli("certs", "list")
        assert f"{US}: valid until" in listed.stdout
