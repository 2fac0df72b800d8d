"""Where the certificate machinery keeps its state: one server's data folder (the
default), or a cluster's shared store, which `proxy` opens and hands in (certs/ does
not know PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from certs.account import AccountStore, FileAccount
from certs.challenges import Challenges, ChallengeStore
from certs.lease import Leases, SqliteLeases
from certs.store import SharedCertificates

__all__ = ["CertBackends"]


def _nothing() -> None:
    return None


@dataclass
class CertBackends:
    leases: Leases
    account: AccountStore
    challenges: Challenges
    certificates: SharedCertificates | None = None  # None: the data folder's files alone
    closing: Callable[[], None] = field(default=_nothing)  # what the shared ones hold open

    @classmethod
    def files(cls, data: Path) -> CertBackends:
        """One server's: all in the data folder."""
        leases = SqliteLeases(data)
        return cls(leases, FileAccount(data), ChallengeStore(data), closing=leases.close)

    def close(self) -> None:
        self.closing()
