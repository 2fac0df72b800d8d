"""`trackway serve` refuses listeners that share a port and an absurd worker count at
start, with one line (issue 10)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proxy.cli.serve import WORKERS_PER_CORE, clashing_listeners
from tests.proxy.cli.test_cli import trackway


@pytest.mark.parametrize(
    ("addresses", "clash"),
    [
        ({"--http": ("127.0.0.1", 8080), "--admin": ("127.0.0.1", 8081)}, None),
        ({"--http": ("127.0.0.1", 8080), "--admin": ("127.0.0.1", 8080)}, ("--http", "--admin")),
        ({"--http": ("0.0.0.0", 80), "--admin": ("127.0.0.1", 80)}, ("--http", "--admin")),  # noqa: S104
        ({"--http": ("127.0.0.1", 80), "--https": ("::", 80)}, ("--http", "--https")),
        ({"--http": ("127.0.0.1", 80), "--admin": ("127.0.0.2", 80)}, None),
        ({"--http": ("127.0.0.1", 0), "--admin": ("127.0.0.1", 0)}, None),  # free ports
        (
            {"--http": ("127.0.0.1", 1), "--admin": ("127.0.0.1", 2), "--https": ("::1", 2)},
            None,
        ),
    ],
)
def test_clashing_listeners(
    addresses: dict[str, tuple[str, int]], clash: tuple[str, str] | None
) -> None:
    assert clashing_listeners(addresses) == clash


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--http", "127.0.0.1:18080", "--admin", "127.0.0.1:18080"), "share a port"),
        (("--workers", str(WORKERS_PER_CORE * (os.cpu_count() or 1) + 1)), "--workers: 0"),
        (("--workers", "-1"), "--workers: 0"),
    ],
)
def test_serve_refuses_at_start(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = trackway("serve", *args, data=tmp_path)
    assert done.returncode == 1
    assert message in done.stderr.decode()
    assert done.stderr.decode().count("\n") == 1
