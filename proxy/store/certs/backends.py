"""The certificate machinery's stores as the settings name them: the data folder's
files, or with `[store] url` the cluster's PostgreSQL (certs/ is handed them: it does
not import this package)."""

from __future__ import annotations

from typing import Any

from certs.backends import CertBackends
from certs.challenges import Challenges, ChallengeStore
from certs.lease import Leases, SqliteLeases
from certs.manager import CertManager
from config import Settings
from proxy.store.certs.account import PostgresAccount
from proxy.store.certs.certificates import PostgresCertificates
from proxy.store.certs.challenges import PostgresChallenges
from proxy.store.certs.database import LazyConnection
from proxy.store.certs.leases import PostgresLeases

__all__ = ["open_cert_backends", "open_cert_manager", "open_challenges", "open_leases"]

# The answering side's lookups, which anyone may set off (a token in a URL, a
# ClientHello): a second's wait for the connection, and after a failed connect a few
# seconds of failing at once (503, the CA asks again) rather than one connect timeout
# per lookup in turn.
LOOKUP_WAIT_SECONDS = 1.0
LOOKUP_PAUSE_SECONDS = 5.0


def open_cert_backends(settings: Settings) -> CertBackends:
    if not settings.store.url:
        return CertBackends.files(settings.data)
    db = LazyConnection(settings.store.url)  # connected when first used
    return CertBackends(
        leases=PostgresLeases(db),
        account=PostgresAccount(db),
        challenges=PostgresChallenges(db),
        certificates=PostgresCertificates(db),
        closing=db.close,
    )


def open_cert_manager(settings: Settings, **seams: Any) -> CertManager:
    """The manager on the settings' stores (`seams`: CertManager's issuer, clock …)."""
    return CertManager(
        settings.data, settings.acme, backends=open_cert_backends(settings), **seams
    )


def open_challenges(settings: Settings) -> Challenges:
    """Where the answering side (workers, TLS listener) reads challenge answers: with a
    shared store every server answers what any published."""
    if not settings.store.url:
        return ChallengeStore(settings.data)
    db = LazyConnection(settings.store.url, wait=LOOKUP_WAIT_SECONDS, pause=LOOKUP_PAUSE_SECONDS)
    return PostgresChallenges(db)


def open_leases(settings: Settings) -> Leases:
    """Leases alone (a server-wide duty, such as the periodic domain checks): the data
    folder's, or the cluster's."""
    if not settings.store.url:
        return SqliteLeases(settings.data)
    return PostgresLeases(LazyConnection(settings.store.url))
