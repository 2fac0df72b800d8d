"""A data folder whose disk fills up while `serve` answers clicks: a real (small tmpfs)
filesystem, mounted in a mount namespace of the server's own (`unshare`), read and
filled by the test through `/proc/<pid>/root`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from redirector import Claims, load_keyring, sign
from tests.support.clicks import LONG_AGO
from tests.support.server_process import ServerProcess

MOUNT = 'mount -t tmpfs -o size=16m,mode=0700 tmpfs "$0" && exec "$@"'
AGENT = "Mozilla/5.0 (X11; Linux x86_64) " + "x" * 2000  # fills the disk in fewer clicks
RESERVE_FAILED = "cannot reserve space for the spool"
HELD = "cannot write the spool"


def in_own_tmpfs(folder: Path) -> list[str]:
    """A command prefix: run it with a small tmpfs on `folder`, seen by it alone."""
    folder.mkdir(parents=True, exist_ok=True)
    # util-linux's unshare, on every Debian machine; a full disk is tested, never skipped.
    tried = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", MOUNT, str(folder), "true"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert tried.returncode == 0, f"cannot mount a tmpfs in a namespace: {tried.stderr}"
    return ["unshare", "-Urm", "sh", "-c", MOUNT, str(folder)]


def metric(server: ServerProcess, name: str, **labels: str) -> float:
    with urllib.request.urlopen(f"{server.admin_url}/metrics", timeout=10) as resp:  # noqa: S310
        text = resp.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    raise AssertionError(f"{name} not on /metrics")


def fill(folder: Path) -> Path:
    ballast = folder / "ballast"
    # Unbuffered: a buffered file keeps the bytes of a partial last write and raises
    # ENOSPC again as it closes, depending on how the free space aligns.
    with ballast.open("wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\xff" * 65536)
    return ballast


def recorded(server: ServerProcess, token: str) -> list[str]:
    """Recipients of every recorded event, by the admin API (database and spool)."""
    found: list[str] = []
    cursor = ""
    while True:
        request = urllib.request.Request(  # noqa: S310 - http, to the server's listener
            f"{server.admin_url}/api/events?limit=1000&cursor={cursor}",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            page = json.load(resp)
        found += [e["recipient_id"] for e in page["events"]]
        if not page["next_cursor"]:
            return found
        cursor = page["next_cursor"]


async def click(url: str, tokens: list[str]) -> list[int]:
    async with aiohttp.ClientSession(headers={"User-Agent": AGENT}) as session:

        async def one(token: str) -> int:
            async with session.get(f"{url}/c/{token}", allow_redirects=False) as resp:
                return resp.status

        return await asyncio.gather(*(one(t) for t in tokens))


def test_a_full_disk_is_seen_before_clicks_stop_being_durable_and_loses_none(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    prefix = in_own_tmpfs(data)
    server = ServerProcess(data, env={"TRACKWAY_STORE_SPOOL_RETRY_SECONDS": "0.5"})
    server.args = [*prefix, *server.args]
    with server:
        assert server.proc is not None
        output = server.proc.stdout
        assert output is not None
        lines = server.output  # kept up to date: the server must never wait for its pipe
        threading.Thread(target=lambda: lines.extend(output), daemon=True).start()
        seen = Path(f"/proc/{server.proc.pid}/root{data}")  # the tmpfs, as the server sees it
        key = load_keyring(seen, int(time.time())).signing_key
        made = iter(range(1_000_000))

        def tokens(n: int) -> list[str]:  # each click its own recipient: r0, r1 …
            return [
                sign(Claims("https://example.com/", "m", f"r{next(made)}", 0, LONG_AGO), key)
                for _ in range(n)
            ]

        answered = asyncio.run(click(server.url, tokens(5)))  # a spool file, reserved
        ballast = fill(seen)

        written_when_warned = None
        for _ in range(200):  # bounded: 16 MiB hold fewer than 8000 such clicks
            answered += asyncio.run(click(server.url, tokens(40)))
            written = metric(server, "trackway_events_written_total", to="spool")
            not_durable = metric(server, "trackway_events_not_durable")
            if written_when_warned is None and RESERVE_FAILED in "".join(lines):
                written_when_warned = written
                assert not_durable == 0  # seen while every answered click is durable
            if not_durable > 0:
                break
        assert set(answered) == {302}  # never held hostage
        assert written_when_warned is not None, "the full disk was never reported"
        assert not_durable > 0, "".join(lines[-20:])
        # Clicks kept going into the space reserved ahead after the warning (some 500 KiB:
        # over 200 of these clicks; the warning is looked for after each round of 40).
        assert written - written_when_warned >= 100
        text = "".join(lines)
        assert text.index(RESERVE_FAILED) < text.index(HELD)
        assert re.search(rf"{HELD} \(No space left on device\): \d+ events held", text)

        ballast.unlink()  # space again: what was held is written, once
        deadline = time.monotonic() + 30
        while metric(server, "trackway_events_not_durable") > 0:
            assert time.monotonic() < deadline, "held events never written"
            time.sleep(0.1)
        answered += asyncio.run(click(server.url, tokens(5)))
        assert set(answered) == {302}
        recipients = recorded(server, (seen / "admin-token").read_text().strip())
        assert sorted(recipients) == sorted(f"r{i}" for i in range(len(answered)))
