"""`store copy`'s certificate step: a data folder's certificates and ACME account into
PostgreSQL. Idempotent: a certificate goes in only over none or one that ends sooner,
the account key only where the store has none, and its registrations only with that
same key (a registration is the key's)."""

from __future__ import annotations

from pathlib import Path

from certs.account import ACCOUNT_KEY_FILE, FileAccount
from certs.store import CertStore
from config import Settings
from proxy.store.certs.account import PostgresAccount
from proxy.store.certs.certificates import PostgresCertificates
from proxy.store.certs.database import LazyConnection
from proxy.store.certs.mirror import CertMirror

__all__ = ["copy_certificates"]


def copy_certificates(settings: Settings, url: str) -> dict[str, int]:
    """Counts of what this call copied: `certificates`, `account_keys`, `registrations`."""
    db = LazyConnection(url)
    try:
        certificates = CertMirror(PostgresCertificates(db), CertStore(settings.data)).push()
        keys, registrations = _copy_account(settings.data, PostgresAccount(db))
    finally:
        db.close()
    return {"certificates": certificates, "account_keys": keys, "registrations": registrations}


def _copy_account(data: Path, shared: PostgresAccount) -> tuple[int, int]:
    path = data / ACCOUNT_KEY_FILE
    if not path.exists():  # never made here: nothing to copy (and none made now)
        return 0, 0
    mine = path.read_bytes()
    made = False

    def ours() -> bytes:
        nonlocal made
        made = True
        return mine

    if shared.key_pem(ours) != mine:
        return 0, 0  # the store has an account of its own: ours stays here
    registrations = 0
    for directory, account in FileAccount(data).registrations().items():
        if shared.registration(directory) is None:
            shared.save_registration(directory, account)
            registrations += 1
    return int(made), registrations
