"""Certificates on disk: `certs/<host>/` in the data folder.

`cert.pem` (the chain), `key.pem` (0600) and `state.json` (dates, the next renewal, the
last error). A certificate and its key are replaced together: both are written aside
and renamed in, key first, so a reader never pairs a new key with an old certificate
for long (and the SNI cache reloads by the state file, written last).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from cryptography import x509

from config.datafolder import ensure_data_dir, write_private_file

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


class CertStore:
    def __init__(self, data: Path) -> None:
        self.root = data / CERTS_DIR

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

    def put_state(self, state: CertState) -> None:
        folder = ensure_data_dir(self.folder(state.host))
        write_private_file(folder / "state.json", json.dumps(state.as_dict(), indent=2).encode())

    def save(self, host: str, chain_pem: bytes, key_pem: bytes, state: CertState) -> CertState:
        cert = x509.load_pem_x509_certificate(chain_pem)
        state = replace(
            state,
            not_before=cert.not_valid_before_utc.timestamp(),
            not_after=cert.not_valid_after_utc.timestamp(),
            issuer=cert.issuer.rfc4514_string(),
        )
        folder = ensure_data_dir(self.folder(host))
        write_private_file(folder / "key.pem", key_pem)
        write_private_file(folder / "cert.pem", chain_pem)
        self.put_state(state)
        self.bump_generation()
        return state

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
