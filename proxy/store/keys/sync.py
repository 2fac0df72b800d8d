"""`serve` keeps its keys.json in step with the database's ring (`ring.pull_with`): the
workers' own reload of keys.json (`proxy.serve.public_app`) then signs with a key
rotated on another server, and refuses one retired there, within seconds.

A task of the supervisor, off the workers' paths: it looks at the ring's version about
every second (and at keys.json, should it be changed by hand), on a thread of its own.
A database that is down is said in one line; the mirror keeps serving, the next looks
come less often (up to `MAX_RETRY_SECONDS`), and it catches up once it is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg

from config import Settings
from proxy.store.connection import connect, unavailable_on_errors
from proxy.store.domains.store import migrated
from proxy.store.keys.ring import pull_with, shared_version
from redirector.links.keystore import KEYS_FILE

__all__ = ["MAX_RETRY_SECONDS", "POLL_SECONDS", "keep_keys_in_step", "retry_delay"]

log = logging.getLogger("trackway.keys")
POLL_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0


def retry_delay(failures: int, poll: float) -> float:
    """Seconds to the next look after `failures` in a row. Pure."""
    return poll if failures <= 0 else min(MAX_RETRY_SECONDS, poll * 2 ** min(failures, 16))


class _Follower:
    """The database's ring followed into keys.json; used on one thread."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.store.url
        self.data = settings.data
        self.conn: psycopg.Connection[Any] | None = None
        self.seen: tuple[int, tuple[int, int, int]] | None = None  # version, file

    def step(self, now: int) -> None:
        with unavailable_on_errors():
            if self.conn is None:
                self.conn = connect(migrated(self.url))
            current = (shared_version(self.conn), _file_state(self.data / KEYS_FILE))
            if current != self.seen:
                version = pull_with(self.conn, self.data, now)
                self.seen = (version, _file_state(self.data / KEYS_FILE))

    def reset(self) -> None:
        """After a failure: a new connection next time (the old one may be gone with a
        restart of the database), and the ring pulled again."""
        if self.conn is not None:
            self.conn.close()
        self.conn, self.seen = None, None


async def keep_keys_in_step(settings: Settings, poll: float = POLL_SECONDS) -> None:
    """Until cancelled (with `[store] url` set)."""
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackway-keys")
    follower = _Follower(settings)
    failures = 0
    try:
        while True:
            try:
                await loop.run_in_executor(pool, follower.step, int(time.time()))
            except Exception as e:  # StoreUnavailable, a bad row: the mirror serves on
                if not failures:
                    log.error("key ring: not in step with the database, keys.json serves: %s", e)
                failures += 1
                await loop.run_in_executor(pool, follower.reset)
            else:
                if failures:
                    log.info("key ring: in step with the database again")
                failures = 0
            await asyncio.sleep(retry_delay(failures, poll))
    finally:
        pool.submit(follower.reset)
        pool.shutdown(wait=False)


def _file_state(path: Path) -> tuple[int, int, int]:
    try:
        found = path.stat()
    except OSError:
        return (0, 0, 0)
    return (found.st_ino, found.st_mtime_ns, found.st_size)
