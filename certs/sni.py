"""The TLS listener's certificates, picked per SNI name from memory.

Python's SNI callback cannot await, so every certificate is loaded before it is
needed: one SSLContext per host, swapped in as a whole when the store changes (the
store bumps a generation file on every save), without a restart. An unknown name is
refused with `unrecognized_name`.
"""

from __future__ import annotations

import logging
import ssl
import tempfile
from pathlib import Path

from certs.store import CertStore

__all__ = ["INTERMEDIATE_CIPHERS", "SniCertificates", "challenge_context"]

log = logging.getLogger("trackway.tls")
# Mozilla's "intermediate" configuration: TLS 1.2 ciphers (TLS 1.3 suites are fixed).
INTERMEDIATE_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    ]
)


def _context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(INTERMEDIATE_CIPHERS)
    context.set_alpn_protocols(["http/1.1"])
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    return context


class SniCertificates:
    def __init__(self, store: CertStore) -> None:
        self.store = store
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._loaded: dict[str, float] = {}  # host -> mtime of what is loaded
        self._generation = -1.0

    def reload(self, force: bool = False) -> bool:
        """Load what changed in the store; True when anything did."""
        generation = self.store.generation()
        if not force and generation == self._generation:
            return False
        contexts = dict(self._contexts)
        loaded = dict(self._loaded)
        hosts = set(self.store.hosts())
        for host in hosts:
            cert, key = self.store.paths(host)
            try:
                stamp = max(cert.stat().st_mtime, key.stat().st_mtime)
                if loaded.get(host) == stamp:
                    continue
                context = _context()
                context.load_cert_chain(cert, key)
            except (OSError, ssl.SSLError) as e:
                log.error("%s: certificate not loaded, keeping the previous one: %s", host, e)
                continue
            contexts[host] = context
            loaded[host] = stamp
        for host in set(contexts) - hosts:
            del contexts[host], loaded[host]
        self._contexts, self._loaded = contexts, loaded  # one swap: handshakes see all or none
        self._generation = generation
        return True

    def names(self) -> list[str]:
        return sorted(self._contexts)

    def server_context(self) -> ssl.SSLContext:
        context = _context()
        context.sni_callback = self._select
        return context

    def _select(self, sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> int | None:
        context = self._contexts.get(name.lower()) if name else None
        if context is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        sock.context = context
        return None


def challenge_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """For a CA validating TLS-ALPN-01: its certificate, and only ALPN `acme-tls/1`.
    Blocking (files: `ssl` loads a chain from nothing else): run it in a thread."""
    context = _context()
    context.set_alpn_protocols(["acme-tls/1"])
    # A folder of our own (0700), gone once loaded: the key is never left behind.
    with tempfile.TemporaryDirectory(prefix="trackway-alpn-") as folder:
        cert, key = Path(folder) / "cert.pem", Path(folder) / "key.pem"
        cert.write_bytes(cert_pem)
        key.touch(0o600)
        key.write_bytes(key_pem)
        context.load_cert_chain(cert, key)
    return context
