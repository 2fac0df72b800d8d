"""TLS-ALPN-01 (RFC 8737): the challenge type the `acme` package no longer has, its
validation certificate, and reading SNI and ALPN from a ClientHello. The certificate
and the ClientHello parts are pure.

The CA connects with ALPN `acme-tls/1` and the SNI name being validated, and expects a
self-signed certificate for that name with the critical `acmeIdentifier` extension
holding SHA-256 of the key authorization. Python's SNI callback cannot see ALPN, so the
listener peeks at the ClientHello before the handshake to know which it is.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from typing import Any

from acme import challenges
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ACME_TLS_ALPN = "acme-tls/1"
ID_PE_ACME_IDENTIFIER = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31")


class TLSALPN01Response(challenges.KeyAuthorizationChallengeResponse):
    typ = "tls-alpn-01"


@challenges.Challenge.register
class TLSALPN01(challenges.KeyAuthorizationChallenge):
    response_cls = TLSALPN01Response
    typ = response_cls.typ

    def validation(self, account_key: Any, **kwargs: Any) -> str:
        return self.key_authorization(account_key)


challenges.ChallengeResponse.register(TLSALPN01Response)


def challenge_certificate(host: str, key_authorization: str, now: float) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) that answers the TLS-ALPN-01 challenge for `host`."""
    key = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(key_authorization.encode("ascii")).digest()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    start = datetime.datetime.fromtimestamp(now, datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - datetime.timedelta(minutes=5))
        .not_valid_after(start + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        # The extension's value is the DER of an OCTET STRING of the 32-byte digest.
        .add_extension(
            x509.UnrecognizedExtension(ID_PE_ACME_IDENTIFIER, b"\x04\x20" + digest), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


@dataclass(frozen=True)
class ClientHello:
    server_name: str | None
    alpn: tuple[str, ...]


class NeedMore(Exception):
    """The bytes so far end before the ClientHello does."""


def parse_client_hello(data: bytes) -> ClientHello | None:
    """SNI and ALPN of a TLS ClientHello at the start of `data`; None when it is not
    one; NeedMore when it is cut short."""
    if len(data) < 5:
        raise NeedMore
    if data[0] != 0x16:  # handshake record
        return None
    record_end = 5 + int.from_bytes(data[3:5], "big")
    if len(data) < record_end:
        raise NeedMore
    body = data[5:record_end]
    try:
        return _hello(body)
    except (IndexError, ValueError):
        return None


def _hello(body: bytes) -> ClientHello | None:
    if body[0] != 0x01:  # client_hello
        return None
    pos = 4 + 2 + 32  # handshake header, version, random
    pos += 1 + body[pos]  # session id
    pos += 2 + int.from_bytes(body[pos : pos + 2], "big")  # cipher suites
    pos += 1 + body[pos]  # compression methods
    if pos >= len(body):
        return ClientHello(None, ())
    end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
    pos += 2
    server_name: str | None = None
    alpn: list[str] = []
    while pos + 4 <= end:
        kind = int.from_bytes(body[pos : pos + 2], "big")
        size = int.from_bytes(body[pos + 2 : pos + 4], "big")
        ext = body[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if kind == 0 and len(ext) >= 5 and ext[2] == 0:  # server_name, host_name
            length = int.from_bytes(ext[3:5], "big")
            server_name = ext[5 : 5 + length].decode("ascii").lower()
        elif kind == 16:  # application_layer_protocol_negotiation
            i = 2
            while i < len(ext):
                length = ext[i]
                alpn.append(ext[i + 1 : i + 1 + length].decode("ascii", "replace"))
                i += 1 + length
    return ClientHello(server_name, tuple(alpn))
