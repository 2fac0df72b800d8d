"""The signed token format. Pure: bytes in, bytes out, no clock and no I/O.

A token is base64url (no padding) of::

    version (1 byte) | key id (4 bytes) | payload | tag (16 bytes)

The tag is HMAC-SHA256 over everything before it, truncated to 128 bits. The version
byte comes first so that a later format can be read beside this one; version 1's
payload is::

    varint sent_at | varint link_index | flags | id message_id | id recipient_id
    [id label] | destination URL (UTF-8, the rest)

`flags` holds the URL's prefix code (``https://``, ``http://www.`` …, so the common
prefixes cost no bytes) and whether a label follows. An `id` is a varint header
``length << 3 | alphabet`` and the id packed in that alphabet: a 26-character ULID
takes 17 bytes instead of 26.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from typing import Any, NamedTuple

from redirector.links.errors import BadSignature, MalformedToken, UnknownVersion
from redirector.links.keyring import KEY_ID_BYTES, KeyRing, SigningKey

VERSION = 1
TAG_BYTES = 16
MAX_TOKEN_CHARS = 8192
_HEADER = 1 + KEY_ID_BYTES
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# The last character of an unpadded token of length 4n+2 carries 2 bits, of 4n+3, 4.
_TO_STANDARD_B64 = bytes.maketrans(b"-_", b"+/")
_TO_URLSAFE_B64 = bytes.maketrans(b"+/", b"-_")
_PADDING = (b"", b"", b"==", b"=")
_CANONICAL_LAST = {
    2: frozenset(_B64URL_ALPHABET[::16]),
    3: frozenset(_B64URL_ALPHABET[::4]),
}

URL_PREFIXES = ("", "https://", "http://", "https://www.", "http://www.")
# Longest first so that "https://www." wins over "https://".
_PREFIX_ORDER = sorted(range(1, len(URL_PREFIXES)), key=lambda i: -len(URL_PREFIXES[i]))
_LABEL_FLAG = 0x80
_BYTE = [bytes([b]) for b in range(256)]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Alphabet 0 is raw UTF-8; 7 is a lowercase dashed UUID; the rest pack as base-N numbers.
ALPHABETS: tuple[str, ...] = (
    "",
    "0123456789",
    "0123456789abcdef",
    "0123456789ABCDEF",
    _CROCKFORD,
    _CROCKFORD.lower(),
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
)
_UUID_KIND = 7
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ALPHABET_SETS = [frozenset(a) for a in ALPHABETS]
_MAX_PACKED_CHARS = 64  # longer ids are stored raw: packing them buys little


class Claims(NamedTuple):
    """What a token says. A named tuple: every click makes one, and it is cheap."""

    url: str
    message_id: str
    recipient_id: str
    link_index: int
    sent_at: int  # unix seconds
    label: str | None = None
    key_id: str = ""
    version: int = VERSION

    def as_dict(self) -> dict[str, object]:
        return dict(self._asdict())


def sign(claims: Claims, key: SigningKey) -> str:
    """Encode and sign; `claims.key_id` and `version` are ignored (the key's are used)."""
    if not (0 <= claims.sent_at < 1 << 63 and 0 <= claims.link_index < 1 << 63):
        raise ValueError("sent_at and link_index: from 0 to 2**63 - 1")
    body = _token_header(key.id_bytes) + _encode_payload(claims)
    tag = hmac_sha256(key.secret, body)[:TAG_BYTES]
    standard = binascii.b2a_base64(body + tag, newline=False)
    return standard.translate(_TO_URLSAFE_B64).rstrip(b"=").decode("ascii")


def verify(token: str, ring: KeyRing) -> Claims:
    """The claims of a token signed by a key of `ring`, or a `TokenError` saying why."""
    raw = _b64decode(token)
    if len(raw) < _HEADER + TAG_BYTES + 5:
        raise MalformedToken("too short")
    if raw[0] != VERSION:
        raise UnknownVersion(str(raw[0]))
    key = ring.verifying_key(raw[1:_HEADER])
    body, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    if not hmac.compare_digest(hmac_sha256(key.secret, body)[:TAG_BYTES], tag):
        raise BadSignature()
    try:
        return _decode_payload(body, _HEADER, key.key_id)
    except (IndexError, ValueError) as e:  # a key holder signed garbage; still not a link
        raise MalformedToken("payload") from e


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


@functools.lru_cache(maxsize=64)
def _hmac_pads(secret: bytes) -> tuple[Any, Any]:
    if len(secret) > 64:
        secret = hashlib.sha256(secret).digest()
    block = secret.ljust(64, b"\0")
    return hashlib.sha256(block.translate(_IPAD)), hashlib.sha256(block.translate(_OPAD))


def hmac_sha256(secret: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104) from each key's padded states, hashed once: every click
    and every signed link pays for it, and this is a third of `hmac.digest`'s cost."""
    inner, outer = _hmac_pads(secret)
    inner = inner.copy()
    inner.update(data)
    outer = outer.copy()
    outer.update(inner.digest())
    return bytes(outer.digest())


def _b64decode(token: str) -> bytes:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise MalformedToken("not a token")
    tail = len(token) % 4
    if tail == 1 or not _B64URL.fullmatch(token):
        raise MalformedToken("not base64url")
    # Reject other spellings of the same bytes: stray low bits in the last character.
    if tail and token[-1] not in _CANONICAL_LAST[tail]:
        raise MalformedToken("not canonical base64url")
    standard = token.encode("ascii").translate(_TO_STANDARD_B64) + _PADDING[tail]
    try:
        return binascii.a2b_base64(standard, strict_mode=True)
    except binascii.Error as e:
        raise MalformedToken("not base64url") from e


def _encode_payload(claims: Claims) -> bytes:
    url = claims.url
    prefix = 0
    if url.startswith("http"):
        for code in _PREFIX_ORDER:
            if url.startswith(URL_PREFIXES[code]):
                prefix = code
                url = url[len(URL_PREFIXES[code]) :]
                break
    label = claims.label
    parts = [
        _varint(claims.sent_at),
        _varint(claims.link_index),
        _BYTE[prefix | (_LABEL_FLAG if label is not None else 0)],
        _encode_id(claims.message_id),
        _encode_id(claims.recipient_id),
    ]
    if label is not None:
        parts.append(_encode_id(label))
    parts.append(url.encode("utf-8", "surrogatepass"))
    return b"".join(parts)


def _decode_payload(body: bytes, pos: int, key_id: str) -> Claims:
    sent_at, pos = _read_varint(body, pos)
    link_index, pos = _read_varint(body, pos)
    if sent_at >= 1 << 63 or link_index >= 1 << 63:
        raise ValueError("out of range")  # as a signed 64-bit integer, what stores take
    flags = body[pos]
    pos += 1
    prefix = flags & 0x7F
    if prefix >= len(URL_PREFIXES):
        raise ValueError("prefix")
    message_id, pos = _decode_id(body, pos)
    recipient_id, pos = _decode_id(body, pos)
    label = None
    if flags & _LABEL_FLAG:
        label, pos = _decode_id(body, pos)
    url = URL_PREFIXES[prefix] + body[pos:].decode("utf-8", "surrogatepass")
    return Claims(url, message_id, recipient_id, link_index, sent_at, label, key_id, VERSION)


@functools.lru_cache(maxsize=1024)  # a message's ids recur in every one of its links
def _encode_id(value: str) -> bytes:
    n = len(value)
    if 0 < n <= _MAX_PACKED_CHARS:
        if n == 36 and _UUID.fullmatch(value):
            return _varint(n << 3 | _UUID_KIND) + bytes.fromhex(value.replace("-", ""))
        chars = set(value)
        for kind in range(1, len(ALPHABETS)):
            if chars <= _ALPHABET_SETS[kind]:
                return _varint(n << 3 | kind) + _pack(value, ALPHABETS[kind])
    raw = value.encode("utf-8", "surrogatepass")
    return _varint(len(raw) << 3) + raw


def _decode_id(body: bytes, pos: int) -> tuple[str, int]:
    header, pos = _read_varint(body, pos)
    n, kind = header >> 3, header & 7
    if kind == 0:
        end = pos + n
        if end > len(body):
            raise ValueError("id")
        return body[pos:end].decode("utf-8", "surrogatepass"), end
    if kind == _UUID_KIND:
        h = body[pos : pos + 16].hex()
        if len(h) != 32 or n != 36:
            raise ValueError("uuid")
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", pos + 16
    if n > _MAX_PACKED_CHARS:
        raise ValueError("id length")
    alphabet = ALPHABETS[kind]
    size = _packed_size(n, len(alphabet))
    if pos + size > len(body):
        raise ValueError("id")
    return _unpack(body[pos : pos + size], n, alphabet), pos + size


@functools.lru_cache(maxsize=512)
def _packed_size(n: int, base: int) -> int:
    largest: int = base**n - 1
    return (largest.bit_length() + 7) // 8


# int(…, base) parses bases up to 36 in C; translate each alphabet to its digits first.
_STANDARD_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_TO_DIGITS = [
    str.maketrans(a, _STANDARD_DIGITS[: len(a)]) if len(a) <= 36 else None for a in ALPHABETS
]


def _pack(value: str, alphabet: str) -> bytes:
    base = len(alphabet)
    table = _TO_DIGITS[ALPHABETS.index(alphabet)]
    if table is not None:
        number = int(value.translate(table), base)
    else:
        number = 0
        for ch in value:
            number = number * base + alphabet.index(ch)
    return number.to_bytes(_packed_size(len(value), base), "big")


_B32_STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_FROM_B32 = {a: str.maketrans(_B32_STANDARD, a) for a in ALPHABETS if len(a) == 32}


@functools.lru_cache(maxsize=4096)  # a message id recurs in every click on its links
def _unpack(data: bytes, n: int, alphabet: str) -> str:
    base = len(alphabet)
    number = int.from_bytes(data, "big")
    limit: int = base**n
    if number >= limit:
        raise ValueError("packed id out of range")
    # The C-speed spellings first: hex, decimal, and base 32 by way of b32encode.
    if alphabet == "0123456789abcdef":
        return format(number, f"0{n}x")
    if alphabet == "0123456789ABCDEF":
        return format(number, f"0{n}X")
    if alphabet == "0123456789":
        return str(number).zfill(n)
    if base == 32:
        padded_chars = -(-n // 8) * 8  # b32encode works in 40-bit groups
        aligned = number << (5 * (padded_chars - n))
        text = base64.b32encode(aligned.to_bytes(padded_chars * 5 // 8, "big")).decode()
        return text[:n].translate(_FROM_B32[alphabet])
    chars = []
    for _ in range(n):
        number, digit = divmod(number, base)
        chars.append(alphabet[digit])
    return "".join(reversed(chars))


@functools.lru_cache(maxsize=64)
def _token_header(key_id: bytes) -> bytes:
    return bytes([VERSION]) + key_id


@functools.lru_cache(maxsize=1024)  # a send's time and its link indexes recur
def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    byte = data[pos]
    if byte < 0x80:  # most are one byte
        return byte, pos + 1
    value = shift = 0
    for _ in range(10):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise ValueError("varint too long")
