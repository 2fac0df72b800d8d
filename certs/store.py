"""Certificates on disk: `certs/<host>/` in the data folder.

`cert.pem` (the chain), `key.pem` (0600) and `state.json` (dates, the next renewal, the
last error). A certificate and its key are replaced together: both are written aside
and renamed in, key first, so a reader never pairs a new key with an old certificate
for long (and the SNI cache reloads by the state file, written last).

With a `SharedCertificates` backend (PostgreSQL, `proxy.store`: several servers) a
write goes there first, then to these files, which are then this server's mirror of
the shared store (`proxy.store` keeps them up to date with the other servers' writes):
the readers (SNI, status, the CLI) read the files alone. A write the database cannot
take now stays in the files, and is shared once it is back.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509

from config.datafolder import ensure_data_dir, write_private_file
from config.errors import Conflict, Unavailable

__all__ = ["CERTS_DIR", "CertState", "CertStore", "LeaseLost", "SharedCertificates", "with_dates"]

log = logging.getLogger("trackway.certs")
CERTS_DIR = "certs"
GENERATION_FILE = ".generation"
_HOST = re.compile(r"[a-z0-9.-]{1,253}")


@dataclass(frozen=True)
class CertState:
    host: str
    not_before: float | None = None
    not_after: float | None = None
    issuer: str | None = None
    renew_at: float | None = None
    last_error: str | None = None
    failures: int = 0
    next_attempt: float | None = None  # after a failure: not before this
    blocked: bool = False  # the CA refuses this name for good: no more orders

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LeaseLost(Conflict):
    """A write whose lease (fencing token) is older than the name's newest: another
    holder took the name over, so this write is refused."""


class SharedCertificates(Protocol):
    """The certificates of every server (one store, several data folders' mirrors).
    `fence`: the writer's lease token for the host; LeaseLost when a newer one exists.
    Unavailable when the database cannot take it now."""

    def put_certificate(
        self, host: str, chain_pem: bytes, key_pem: bytes, state: CertState, fence: int | None
    ) -> None: ...

    def put_state(self, state: CertState, fence: int | None) -> None: ...

    def get(self, host: str) -> tuple[bytes | None, bytes | None, CertState] | None:
        """(chain, key, state) as shared (no chain yet: None), or None."""
        ...


class CertStore:
    def __init__(self, data: Path, shared: SharedCertificates | None = None) -> None:
        self.root = data / CERTS_DIR
        self.shared = shared

    def folder(self, host: str) -> Path:
        if not _HOST.fullmatch(host) or ".." in host:
            raise ValueError(f"not a host name: {host!r}")
        return self.root / host

    def has_certificate(self, host: str) -> bool:
        folder = self.folder(host)
        return (folder / "cert.pem").exists() and (folder / "key.pem").exists()

    def paths(self, host: str) -> tuple[Path, Path]:
        folder = self.folder(host)
        return folder / "cert.pem", folder / "key.pem"

    def state(self, host: str) -> CertState:
        try:
            doc = json.loads((self.folder(host) / "state.json").read_text("utf-8"))
            return CertState(**doc)
        except (OSError, ValueError, TypeError):
            return self._state_from_certificate(host)

    def _state_from_certificate(self, host: str) -> CertState:
        """A certificate an operator put here by hand has no state file: read its dates."""
        cert_path, _ = self.paths(host)
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        except (OSError, ValueError):
            return CertState(host)
        return CertState(
            host,
            cert.not_valid_before_utc.timestamp(),
            cert.not_valid_after_utc.timestamp(),
            cert.issuer.rfc4514_string(),
        )

    def put_state(self, state: CertState, fence: int | None = None) -> None:
        """Shared first (with the writer's lease token), then here."""
        if self.shared is not None:
            shared = self.shared
            self._share(state.host, lambda: shared.put_state(state, fence))
        self.write_state(state)

    def save(
        self,
        host: str,
        chain_pem: bytes,
        key_pem: bytes,
        state: CertState,
        fence: int | None = None,
    ) -> CertState:
        """The certificate with its dates in `state`: shared first (LeaseLost when
        `fence` is not the newest lease), then here."""
        state = with_dates(state, chain_pem)
        if self.shared is not None:
            shared = self.shared
            self._share(
                host, lambda: shared.put_certificate(host, chain_pem, key_pem, state, fence)
            )
        self.write_certificate(host, chain_pem, key_pem, state)
        return state

    def refresh(self, host: str) -> bool:
        """This server's files for `host` brought up to the shared store's (before an
        order: another server may have renewed it a moment ago); True if they changed."""
        if self.shared is None:
            return False
        found = self.shared.get(host)
        return found is not None and self.mirror(host, *found)

    def mirror(
        self, host: str, chain_pem: bytes | None, key_pem: bytes | None, state: CertState
    ) -> bool:
        """A shared row into this server's files, unless what is here ends later (kept
        while the database was down, shared since or soon); True if they changed."""
        held = self.certificate(host)
        if chain_pem is None or key_pem is None:
            return held is None and self._mirror_state(state)  # a certificate here wins
        if held == (chain_pem, key_pem):
            return self._mirror_state(state)
        mine = self.state(host).not_after if held is not None else None
        if mine is not None and state.not_after is not None and mine > state.not_after:
            return False
        self.write_certificate(host, chain_pem, key_pem, state)
        return True

    def _mirror_state(self, state: CertState) -> bool:
        if self.state(state.host) == state:
            return False
        self.write_state(state)
        return True

    def _share(self, host: str, write: Callable[[], None]) -> None:
        try:
            write()
        except LeaseLost:
            raise
        except Unavailable as e:  # the files serve meanwhile; shared when it is back
            log.warning("%s: kept on this server only for now: %s", host, e)

    def write_state(self, state: CertState) -> None:
        """This server's files only (the mirror's writes, and `put_state`'s)."""
        folder = ensure_data_dir(self.folder(state.host))
        write_private_file(folder / "state.json", json.dumps(state.as_dict(), indent=2).encode())

    def write_certificate(
        self, host: str, chain_pem: bytes, key_pem: bytes, state: CertState
    ) -> None:
        """This server's files only; the TLS listeners reload."""
        folder = ensure_data_dir(self.folder(host))
        write_private_file(folder / "key.pem", key_pem)
        write_private_file(folder / "cert.pem", chain_pem)
        self.write_state(state)
        self.bump_generation()

    def certificate(self, host: str) -> tuple[bytes, bytes] | None:
        """(chain PEM, key PEM) as stored here, or None."""
        cert, key = self.paths(host)
        try:
            return cert.read_bytes(), key.read_bytes()
        except OSError:
            return None

    def bump_generation(self) -> None:
        """Tell the TLS listeners to reload (they look at this one file, not at every host)."""
        write_private_file(self.root / GENERATION_FILE, f"{time.time_ns()}\n".encode())

    def generation(self) -> float:
        try:
            return (self.root / GENERATION_FILE).stat().st_mtime_ns
        except OSError:
            return 0.0

    def hosts(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "cert.pem").exists())


def with_dates(state: CertState, chain_pem: bytes) -> CertState:
    """`state` with the dates and issuer of the chain's first certificate."""
    cert = x509.load_pem_x509_certificate(chain_pem)
    return replace(
        state,
        not_before=cert.not_valid_before_utc.timestamp(),
        not_after=cert.not_valid_after_utc.timestamp(),
        issuer=cert.issuer.rfc4514_string(),
    )
