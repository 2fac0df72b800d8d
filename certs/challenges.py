"""Challenge answers, shared by the process that orders and those that answer: HTTP-01
key authorizations (`/.well-known/acme-challenge/{token}`) and TLS-ALPN-01 validation
certificates (the TLS listener, before the handshake).

`Challenges` is the interface; `ChallengeStore` keeps one small file each in the data
folder (one server); `proxy.store` has the PostgreSQL backend, so that any server of
a cluster answers what another published (the CA may ask either).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from config.datafolder import ensure_data_dir, write_private_file

__all__ = ["CHALLENGES_DIR", "TLS_ALPN_DIR", "ChallengeStore", "Challenges", "is_token"]

CHALLENGES_DIR = "acme/challenges"
TLS_ALPN_DIR = "acme/tls-alpn"
# RFC 8555 §8.3: the token is base64url; anything else is not ours to look up.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,256}")


def is_token(token: str) -> bool:
    return bool(_TOKEN.fullmatch(token))


class Challenges(Protocol):
    def publish(self, token: str, key_authorization: str) -> None: ...

    def withdraw(self, token: str) -> None: ...

    def response(self, token: str) -> str | None:
        """The key authorization for `token`; the CA asks several times, from several
        vantage points, so this answers every time until withdrawn."""
        ...

    def publish_tls_alpn(self, host: str, cert_pem: bytes, key_pem: bytes) -> None: ...

    def withdraw_tls_alpn(self, host: str) -> None: ...

    def tls_alpn_certificate(self, host: str) -> tuple[bytes, bytes] | None:
        """(certificate PEM, key PEM) for `host` while its TLS-ALPN-01 challenge is open."""
        ...

    def close(self) -> None: ...


class ChallengeStore:
    def __init__(self, data: Path) -> None:
        self.dir = data / CHALLENGES_DIR
        self.tls_alpn_dir = data / TLS_ALPN_DIR

    def publish(self, token: str, key_authorization: str) -> None:
        if not is_token(token):
            raise ValueError("not an ACME token")
        write_private_file(ensure_data_dir(self.dir) / token, key_authorization.encode("ascii"))

    def withdraw(self, token: str) -> None:
        if is_token(token):
            (self.dir / token).unlink(missing_ok=True)

    def response(self, token: str) -> str | None:
        """The key authorization for `token`; the CA asks several times, from several
        vantage points, so this answers every time until withdrawn."""
        if not is_token(token):
            return None
        try:
            return (self.dir / token).read_text("ascii")
        except (OSError, UnicodeDecodeError):
            return None

    def publish_tls_alpn(self, host: str, cert_pem: bytes, key_pem: bytes) -> None:
        folder = ensure_data_dir(self.tls_alpn_dir / _host_folder(host))
        write_private_file(folder / "key.pem", key_pem)
        write_private_file(folder / "cert.pem", cert_pem)

    def withdraw_tls_alpn(self, host: str) -> None:
        folder = self.tls_alpn_dir / _host_folder(host)
        for name in ("cert.pem", "key.pem"):
            (folder / name).unlink(missing_ok=True)

    def tls_alpn_certificate(self, host: str) -> tuple[bytes, bytes] | None:
        paths = self.tls_alpn_paths(host)
        if paths is None:
            return None
        try:
            return paths[0].read_bytes(), paths[1].read_bytes()
        except OSError:  # withdrawn meanwhile
            return None

    def close(self) -> None:
        """Files: nothing held open."""

    def tls_alpn_paths(self, host: str) -> tuple[Path, Path] | None:
        """The validation certificate for `host` while a TLS-ALPN-01 challenge is open."""
        try:
            folder = self.tls_alpn_dir / _host_folder(host)
        except ValueError:
            return None
        cert, key = folder / "cert.pem", folder / "key.pem"
        return (cert, key) if cert.exists() and key.exists() else None


_HOST = re.compile(r"[a-z0-9.-]{1,253}")


def _host_folder(host: str) -> str:
    if not _HOST.fullmatch(host) or ".." in host:
        raise ValueError(f"not a host name: {host!r}")
    return host
