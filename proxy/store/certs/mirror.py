"""This server's `certs/<host>/` files as a mirror of the cluster's certificates.

The supervisor of `serve` runs `keep_mirroring`: every second it pulls the rows written
since the last version it saw and writes what changed into the data folder, where the
workers' SNI reload picks it up (so a certificate ordered by one server is served by
all within seconds). It first pushes what this folder holds that the store lacks or
holds older (a certificate saved while the database was down, a folder from before the
store): pulling never replaces a certificate that ends later than the store's. A
database that is down costs one log line; the files keep serving, the pull retries
with a growing pause, and catches up from where it was.
"""

from __future__ import annotations

import asyncio
import logging

from certs.store import CertStore, with_dates
from config import Settings
from config.errors import Unavailable
from proxy.store.certs.certificates import PostgresCertificates
from proxy.store.certs.database import LazyConnection

__all__ = ["CertMirror", "keep_mirroring"]

log = logging.getLogger("trackway.certs")
PULL_SECONDS = 1.0
MAX_PAUSE_SECONDS = 30.0


class CertMirror:
    def __init__(self, shared: PostgresCertificates, local: CertStore) -> None:
        self.shared = shared
        self.local = local
        self.seen = 0  # the last version pulled

    def pull(self) -> list[str]:
        """The hosts whose files changed here."""
        changed = []
        for row in self.shared.changes(self.seen):
            if self.local.mirror(row.host, row.chain_pem, row.key_pem, row.state):
                changed.append(row.host)
            self.seen = row.version
        return changed

    def push(self) -> int:
        """Shares this folder's certificates the store lacks or holds older; how many."""
        pushed = 0
        for host in self.local.hosts():
            held = self.local.certificate(host)
            if held is None:
                continue
            try:
                state = with_dates(self.local.state(host), held[0])
            except ValueError:  # not a certificate: nothing to share
                log.warning("%s: %s is not a certificate", host, self.local.paths(host)[0])
                continue
            if self.shared.put_if_newer(host, held[0], held[1], state):
                pushed += 1
        return pushed


async def keep_mirroring(settings: Settings) -> None:
    """Until cancelled (the supervisor of `serve`, with `[store] url`)."""
    db = LazyConnection(settings.store.url)
    mirror = CertMirror(PostgresCertificates(db), CertStore(settings.data))
    loop = asyncio.get_running_loop()
    pause, down, pushed = PULL_SECONDS, False, False
    try:
        while True:
            try:
                if not pushed:
                    shared = await loop.run_in_executor(None, mirror.push)
                    pushed = True
                    if shared:
                        log.info("certificates: %d shared from this server", shared)
                changed = await loop.run_in_executor(None, mirror.pull)
                if changed:
                    log.info("certificates from the shared store: %s", ", ".join(changed))
                if down:
                    log.info("certificates: the shared store is back, caught up")
                pause, down = PULL_SECONDS, False
            except Unavailable as e:
                if not down:
                    log.error("certificates: serving this server's copies meanwhile: %s", e)
                pause, down, pushed = min(MAX_PAUSE_SECONDS, pause * 2), True, False
            except Exception:  # a bad row, a full disk: said, and tried again later
                log.exception("certificates not mirrored")
                pause = min(MAX_PAUSE_SECONDS, pause * 2)
            await asyncio.sleep(pause)
    finally:
        db.close()
