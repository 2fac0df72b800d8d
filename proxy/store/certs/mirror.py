"""This server's `certs/<host>/` files as a mirror of the cluster's certificates.

`CertMirror` is the certificate part of `serve`'s one mirroring task
(`proxy.store.sync.keep_mirrors_in_step`), which steps it about every second beside
keys.json and domains.db: after each connection to the database it first pushes what
this folder holds that the store lacks or holds older (a certificate saved while the
database was down, a folder from before the store), then it pulls the rows written
since the last version it saw and writes what changed into the data folder, where the
workers' SNI reload picks it up (so a certificate ordered by one server is served by
all within seconds). Pulling never replaces a certificate that ends later than the
store's. `store copy` pushes with it too.
"""

from __future__ import annotations

import logging

from certs.store import CertStore, with_dates
from proxy.store.certs.certificates import PostgresCertificates

__all__ = ["CertMirror"]

log = logging.getLogger("trackway.certs")


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
