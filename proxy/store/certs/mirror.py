"""This server's `certs/<host>/` files as a mirror of the cluster's certificates.

`CertMirror` is the certificate part of `serve`'s one mirroring task
(`proxy.store.sync.keep_mirrors_in_step`), which steps it about every second beside
keys.json and domains.db. It pushes what this folder holds that the store lacks or holds
older (a certificate saved while the database was down or refused writes, a folder from
before the store): every host after each connection, then only hosts whose files
changed since they were last pushed or pulled (a stat each: cheap enough to look often).
It pulls the rows written since the last version it saw and writes what changed into
the data folder, where the workers' SNI reload picks it up (so a certificate ordered by
one server is served by all within seconds). Pulling never replaces a certificate that
ends later than the store's. A folder that is no host name (`certs/Example.com`) or
holds no certificate is said once (again when its files change) and skipped: the
others are shared all the same. `store copy` pushes with it too.
"""

from __future__ import annotations

import logging
from pathlib import Path

from certs.store import CertStore, with_dates
from config.datafolder import file_version
from proxy.store.certs.certificates import PostgresCertificates

__all__ = ["CertMirror"]

log = logging.getLogger("trackway.certs")
_Files = tuple[tuple[int, int, int], ...]


class CertMirror:
    def __init__(self, shared: PostgresCertificates, local: CertStore) -> None:
        self.shared = shared
        self.local = local
        self.seen = 0  # the last version pulled
        # Each host's files as last pushed, pulled or skipped: unchanged, not pushed again.
        self.known: dict[str, _Files] = {}

    def pull(self) -> list[str]:
        """The hosts whose files changed here."""
        changed = []
        for row in self.shared.changes(self.seen):
            if self.local.mirror(row.host, row.chain_pem, row.key_pem, row.state):
                changed.append(row.host)
                self.known[row.host] = _files(self.local.root / row.host)  # the store's
            self.seen = row.version
        return changed

    def push(self) -> int:
        """Shares this folder's certificates the store lacks or holds older, of the hosts
        whose files changed since `forget`; how many."""
        pushed = 0
        for host in self.local.hosts():
            files = _files(self.local.root / host)
            if self.known.get(host) == files:
                continue
            try:
                held = self.local.certificate(host)
                if held is None:
                    continue
                state = with_dates(self.local.state(host), held[0])
            except ValueError as e:  # no host name, not a certificate: nothing to share
                log.warning("certificates: certs/%s skipped: %s", host, _first_line(e))
                self.known[host] = files
                continue
            if self.shared.put_if_newer(host, held[0], held[1], state):
                pushed += 1
            self.known[host] = files
        return pushed

    def forget(self) -> None:
        """Every host pushed again at the next push (after a new connection: the store
        may have lost what it had, restored from a backup)."""
        self.known.clear()


def _files(folder: Path) -> _Files:
    """The certificate's and key's files as they are now (a write replaces a file: a
    new inode)."""
    return tuple(file_version(folder / name) for name in ("cert.pem", "key.pem"))


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
