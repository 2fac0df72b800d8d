"""`trackway serve` as users run it: a real process, several workers, signals."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from redirector import Claims, load_keyring, sign
from redirector.recording.event_store import DATABASE_FILE
from redirector.recording.spool import Spool
from tests.support.clicks import BROWSER, LONG_AGO
from tests.support.server_process import ServerProcess


def recorded_recipients(data: Path) -> set[str]:
    found = {e.recipient_id for e in Spool(data).read_all()}
    conn = sqlite3.connect(data / DATABASE_FILE)
    try:
        found |= {row[0] for row in conn.execute("SELECT recipient_id FROM events")}
    finally:
        conn.close()
    return found


def tokens(data: Path, count: int) -> list[tuple[str, str]]:
    ring = load_keyring(data, int(time.time()))
    return [
        (
            f"r{i}",
            sign(
                Claims(f"https://example.com/{i}", "m", f"r{i}", i % 2, LONG_AGO), ring.signing_key
            ),
        )
        for i in range(count)
    ]


async def click_all(
    url: str, work: list[tuple[str, str]], answered: list[str], concurrency: int = 16
) -> None:
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            recipient, token = queue.get_nowait()
            try:
                async with session.get(f"{url}/c/{token}", allow_redirects=False) as resp:
                    if resp.status == 302:
                        answered.append(recipient)
            except (aiohttp.ClientError, OSError):
                return  # the server is gone

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": BROWSER}) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))


async def load_then(
    url: str,
    work: list[tuple[str, str]],
    answered: list[str],
    after: int,
    action: Callable[[], None],
) -> None:
    """Click under load; once `after` clicks are answered, do `action` (a signal)."""
    clicking = asyncio.create_task(click_all(url, work, answered))
    while len(answered) < after:
        await asyncio.sleep(0.01)
    action()
    await clicking


def test_serve_announces_itself_and_keeps_secrets_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with ServerProcess(data, workers=2) as server:
        text = "".join(server.output)
        assert f"trackway: data folder {data}" in text
        assert f"trackway: admin token in {data / 'admin-token'}" in text
        assert "(2 workers)" in text
        token = (data / "admin-token").read_text().strip()
        assert token not in text
        for name in ("admin-token", "keys.json", "client-salt"):
            assert stat.S_IMODE((data / name).stat().st_mode) == 0o600


def test_sigkill_under_load_loses_no_answered_event(tmp_path: Path) -> None:
    data = tmp_path / "data"
    work = tokens(data, 3000)
    answered: list[str] = []
    with ServerProcess(data, workers=2) as server:
        asyncio.run(
            load_then(server.url, work, answered, 300, lambda: server.signal_all(signal.SIGKILL))
        )
        server.wait()
    assert 300 <= len(answered) < len(work)
    missing = set(answered) - recorded_recipients(data)
    assert not missing, f"{len(missing)} answered clicks were lost"

    # A restart serves again, with every event still there.
    with ServerProcess(data, workers=1) as server:
        more: list[str] = []
        asyncio.run(click_all(server.url, work[-5:], more))
        assert len(more) == 5
    assert set(answered) | set(more) <= recorded_recipients(data)


def test_sigterm_drains_and_flushes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    work = tokens(data, 2000)
    answered: list[str] = []
    with ServerProcess(data, workers=2) as server:
        asyncio.run(
            load_then(
                server.url, work, answered, 200, lambda: server.signal_parent(signal.SIGTERM)
            )
        )
        assert server.wait() == 0
    assert set(answered) <= recorded_recipients(data)


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "proxy.cli", "serve", "--data", str(tmp_path), "--http", f"127.0.0.1:{port}", "--admin", "127.0.0.1:0"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 1
    assert "cannot listen" in done.stderr
