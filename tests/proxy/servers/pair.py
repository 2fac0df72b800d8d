"""Two `serve` processes on one PostgreSQL database, each with its own data folder,
for tests: the key ring copied from one folder to the other (the ring in the database
comes later), the client salt shared through the database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import aiohttp
import psycopg

from redirector import Claims, load_keyring, sign
from tests.support.clicks import BROWSER, LONG_AGO
from tests.support.server_process import ServerProcess

__all__ = [
    "FAST_RETRY",
    "click",
    "export",
    "metric",
    "pg_server",
    "share_key_ring",
    "signed",
    "stored",
    "wait_until",
]

# Loaders that try the database again soon, at full speed: bounded tests.
FAST_RETRY = {
    "TRACKWAY_STORE_SPOOL_RETRY_SECONDS": "0.2",
    "TRACKWAY_STORE_LOAD_PRIORITY": "normal",
}


def share_key_ring(first: Path, second: Path) -> None:
    load_keyring(first, int(time.time()))
    second.mkdir(parents=True, exist_ok=True)
    os.chmod(second, 0o700)
    shutil.copy2(first / "keys.json", second / "keys.json")


def pg_server(data: Path, url: str, workers: int = 1) -> ServerProcess:
    return ServerProcess(data, workers=workers, env={**FAST_RETRY, "TRACKWAY_STORE_URL": url})


def signed(
    data: Path, recipients: list[str], message: str = "m", link: Callable[[int], int] = lambda i: 0
) -> list[tuple[str, str]]:
    """(recipient, token) for each recipient, signed with the folder's ring."""
    ring = load_keyring(data, int(time.time()))
    return [
        (
            r,
            sign(
                Claims(f"https://example.com/{i}", message, r, link(i), LONG_AGO), ring.signing_key
            ),
        )
        for i, r in enumerate(recipients)
    ]


async def click(base: str, token: str) -> int:
    timeout = aiohttp.ClientTimeout(total=15)
    async with (
        aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": BROWSER}) as session,
        session.get(f"{base}/c/{token}", allow_redirects=False) as resp,
    ):
        return resp.status


def stored(url: str) -> list[tuple[str, str, int, str]]:
    """(id, recipient, bot, reasons) of every stored event; none while it is down."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            rows = conn.execute("SELECT id, recipient_id, bot, reasons FROM events ORDER BY id")
            return [(str(r[0]), str(r[1]), int(r[2]), str(r[3])) for r in rows]
    except psycopg.Error:
        return []


def wait_until(holds: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not holds():
        assert time.monotonic() < deadline, f"not in {seconds} s: {what}"
        time.sleep(0.1)


def export(data: Path, url: str) -> list[dict[str, object]]:
    """`trackway events export` of that server's folder (PostgreSQL and its spool)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    done = subprocess.run(
        [sys.executable, "-m", "proxy.cli", "events", "export", "--data", str(data)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**env, "TRACKWAY_STORE_URL": url},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, object]] = json.loads(done.stdout)
    return rows


def metric(server: ServerProcess, name: str) -> float | None:
    """A metric without labels from the admin listener's `/metrics`."""
    with urllib.request.urlopen(f"{server.admin_url}/metrics", timeout=10) as resp:  # noqa: S310
        text = resp.read().decode()
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return float(value)
    return None
