"""`serve` keeps its local mirrors in step with the database: keys.json with the key
ring (`keys.ring.pull_with`), domains.db with the domains (`domains.mirror`). The
workers read only those files, as without a database: their reload of keys.json
(`proxy.serve.public_app`) then signs with a key rotated on another server and refuses
one retired there, and their live routes forward a host put in proxy mode there, within
seconds; and they keep serving while the database is down.

A task of the supervisor, off the workers' paths: it looks at the versions about every
second (and at keys.json, should it be changed by hand), on a thread of its own. A
database that is down is said in one line; the mirrors keep serving, the next looks
come less often (up to `MAX_RETRY_SECONDS`), and they catch up once it is back.
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
from proxy.store.domains.mirror import mirror_domains
from proxy.store.domains.store import PostgresDomainStore, migrated
from proxy.store.keys.ring import current_keyring, pull_with, shared_version
from redirector.links.keystore import KEYS_FILE
from redirector.recording.event_store import StoreUnavailable

__all__ = [
    "MAX_RETRY_SECONDS",
    "POLL_SECONDS",
    "keep_mirrors_in_step",
    "pull_mirrors",
    "retry_delay",
]

log = logging.getLogger("trackway.store")
POLL_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0


def retry_delay(failures: int, poll: float) -> float:
    """Seconds to the next look after `failures` in a row. Pure."""
    return poll if failures <= 0 else min(MAX_RETRY_SECONDS, poll * 2 ** min(failures, 16))


def pull_mirrors(settings: Settings, now: int) -> None:
    """Once, as `serve` starts, before its workers read the mirrors: the database's ring
    (an empty database takes this one) and domains. The database down: the mirrors as
    they are, said in a line."""
    current_keyring(settings, now)
    if settings.store.url:
        try:
            shared = PostgresDomainStore(settings.store.url, settings.data)
            try:
                mirror_domains(shared, settings.data)
            finally:
                shared.close()
        except StoreUnavailable as e:
            log.warning("domains: %s; the workers read domains.db as it is", e)


class _Follower:
    """The database followed into the mirrors; used on one thread."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.store.url
        self.data = settings.data
        self.conn: psycopg.Connection[Any] | None = None
        self.domains: PostgresDomainStore | None = None
        self.seen_keys: tuple[int, tuple[int, int, int]] | None = None  # version, file
        self.seen_domains: int | None = None

    def step(self, now: int) -> None:
        with unavailable_on_errors():
            if self.conn is None:
                self.conn = connect(migrated(self.url))
            current = (shared_version(self.conn), _file_state(self.data / KEYS_FILE))
            if current != self.seen_keys:
                version = pull_with(self.conn, self.data, now)
                self.seen_keys = (version, _file_state(self.data / KEYS_FILE))
        if self.domains is None:
            self.domains = PostgresDomainStore(self.url)
        if self.domains.version() != self.seen_domains:
            self.seen_domains = mirror_domains(self.domains, self.data)

    def reset(self) -> None:
        """After a failure: new connections next time (the old ones may be gone with a
        restart of the database), and everything pulled again."""
        if self.conn is not None:
            self.conn.close()
        if self.domains is not None:
            self.domains.close()
        self.conn, self.domains, self.seen_keys, self.seen_domains = None, None, None, None


async def keep_mirrors_in_step(settings: Settings, poll: float = POLL_SECONDS) -> None:
    """Until cancelled (with `[store] url` set)."""
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackway-mirrors")
    follower = _Follower(settings)
    failures = 0
    try:
        while True:
            try:
                await loop.run_in_executor(pool, follower.step, int(time.time()))
            except Exception as e:  # StoreUnavailable, a bad row: the mirrors serve on
                if not failures:
                    log.error(
                        "mirrors: not in step with the database, the local files serve: %s", e
                    )
                failures += 1
                await loop.run_in_executor(pool, follower.reset)
            else:
                if failures:
                    log.info("mirrors: in step with the database again")
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
