"""`serve` keeps its local mirrors in step with the database: keys.json with the key
ring (`keys.ring.pull_with`), domains.db with the domains (`domains.mirror`), the
check-secret file with the database's check secret (`share_check_secret`), and the
`certs/<host>/` files with the certificates (`certs.mirror.CertMirror`). The workers
read only those files, as without a database: their reload of keys.json
(`proxy.serve.public_app`) then signs with a key rotated on another server and refuses
one retired there, their live routes forward a host put in proxy mode there, their
check path answers another server's domain checks, and their SNI reload serves a
certificate another server obtained, within seconds; and they keep serving while the
database is down.

One task of the supervisor, off the workers' paths, on a thread of its own: about every
second it steps each mirror in turn (keys.json also when changed by hand; the
certificates this folder holds that the database lacks or holds older are pushed first:
all of them after each connection, then those whose files changed, looked for when a
certificate was written here and every `PUSH_SECONDS`, so one saved while the database
was down or refused writes, a failover, is shared once it takes them). A database that
is down is said in one line, and its return in another; the mirrors keep serving, the
next looks come less often (`retry_delay`, up to `MAX_RETRY_SECONDS`), and they catch up
once it is back. Any other failure of one mirror (a row it cannot read, a full disk) is
said once while it lasts, and the others are stepped all the same.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from certs.store import CertStore
from config import Settings
from config.datafolder import file_version
from proxy.domains.service import CHECK_SECRET_FILE
from proxy.store.certs.certificates import PostgresCertificates
from proxy.store.certs.database import LazyConnection
from proxy.store.certs.mirror import CertMirror
from proxy.store.domains.mirror import mirror_domains
from proxy.store.domains.store import PostgresDomainStore, share_check_secret
from proxy.store.keys.ring import current_keyring, pull_with, shared_version
from redirector.links.keystore import KEYS_FILE
from redirector.recording.event_store import StoreUnavailable

__all__ = [
    "MAX_RETRY_SECONDS",
    "POLL_SECONDS",
    "PUSH_SECONDS",
    "keep_mirrors_in_step",
    "pull_mirrors",
    "retry_delay",
]

log = logging.getLogger("trackway.store")
POLL_SECONDS = 1.0
PUSH_SECONDS = 300  # a certificate put in certs/ by hand is shared within this
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
                mirror_domains(shared, settings.data, now)
            finally:
                shared.close()
        except StoreUnavailable as e:
            log.warning("domains: %s; the workers read domains.db as it is", e)


class _Follower:
    """The database followed into the mirrors; used on one thread."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.store.url
        self.data = settings.data
        self.db = LazyConnection(self.url)  # the key ring's and the certificates'
        self.domains: PostgresDomainStore | None = None
        self.certs = CertMirror(PostgresCertificates(self.db), CertStore(self.data))
        self.seen_keys: tuple[int, tuple[int, int, int]] | None = None  # version, file
        self.seen_domains: int | None = None
        self.seen_secret: tuple[int, int, int] | None = None  # check-secret's file
        self.pushed: tuple[float, int] | None = None  # certs/'s generation, when (now)
        self.failing: set[str] = set()  # mirrors whose failure was said

    def step(self, now: int) -> None:
        """Each mirror in turn. StoreUnavailable (the database down) ends the step: the
        others would only wait for it too."""
        parts: tuple[tuple[str, Callable[[], None]], ...] = (
            ("keys.json", lambda: self._keys(now)),
            ("domains.db", lambda: self._domains(now)),
            ("check-secret", self._check_secret),
            ("certificates to the database", lambda: self._push_certificates(now)),
            ("certificates from the database", self._pull_certificates),
        )
        for name, part in parts:
            try:
                part()
            except StoreUnavailable:
                raise
            except Exception:  # a bad row, a full disk: this mirror alone waits
                if name not in self.failing:
                    self.failing.add(name)
                    log.exception("mirrors: %s failed; tried again at each look", name)
            else:
                if name in self.failing:
                    self.failing.discard(name)
                    log.info("mirrors: %s in step again", name)

    def _keys(self, now: int) -> None:
        with self.db.connection() as conn:
            current = (shared_version(conn), file_version(self.data / KEYS_FILE))
            if current != self.seen_keys:
                version = pull_with(conn, self.data, now)
                self.seen_keys = (version, file_version(self.data / KEYS_FILE))

    def _domains(self, now: int) -> None:
        if self.domains is None:
            self.domains = PostgresDomainStore(self.url)
        if self.domains.version() != self.seen_domains:
            self.seen_domains = mirror_domains(self.domains, self.data, now)

    def _check_secret(self) -> None:
        """Shared (the database taking this one, or this file becoming the database's)
        after each connection and whenever the file changed: a server started while the
        database was down made its own, and its workers follow the file."""
        if file_version(self.data / CHECK_SECRET_FILE) != self.seen_secret:
            with self.db.connection() as conn:
                share_check_secret(conn, self.data)
            self.seen_secret = file_version(self.data / CHECK_SECRET_FILE)

    def _push_certificates(self, now: int) -> None:
        """When there may be something to share: after each connection, when a
        certificate was written here (certs/'s generation: one stat), and every
        PUSH_SECONDS for files put there by hand; the push itself looks only at hosts
        whose files changed. A push that fails is tried again at the next step."""
        generation = self.certs.local.generation()  # before: a write meanwhile, next time
        if self.pushed is not None:
            pushed_generation, pushed_at = self.pushed
            if generation == pushed_generation and now - pushed_at < PUSH_SECONDS:
                return
        shared = self.certs.push()
        self.pushed = (generation, now)
        if shared:
            log.info("certificates: %d shared from this server", shared)

    def _pull_certificates(self) -> None:
        changed = self.certs.pull()  # from the last version seen, across outages
        if changed:
            log.info("certificates from the database: %s", ", ".join(changed))

    def reset(self) -> None:
        """After the database failed: new connections next time (the old ones may be
        gone with a restart of the database), keys, domains and the check secret pulled
        again, this folder's certificates pushed again."""
        self.db.close()
        if self.domains is not None:
            self.domains.close()
        self.domains, self.seen_keys, self.seen_domains, self.pushed = None, None, None, None
        self.seen_secret = None
        self.certs.forget()


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
            except Exception as e:  # StoreUnavailable: the mirrors serve on
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
