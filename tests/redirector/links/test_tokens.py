from __future__ import annotations

import base64
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redirector import (
    BadSignature,
    Claims,
    KeyRing,
    MalformedToken,
    RetiredKey,
    TokenError,
    UnknownKey,
    UnknownVersion,
    sign,
    verify,
)
from redirector.links.keyring import SigningKey
from redirector.links.tokens import hmac_sha256

ULID_A = "01JDQ8Z6W3V9R2K4M5N6P7Q8RS"
ULID_B = "01JDQ8Z6W3V9R2K4M5N6P7Q8RT"
URL_70 = "https://shop.example.com/spring/sale/items?campaign=winter-2026&ref=n1"


def test_round_trip_keeps_every_claim(ring: KeyRing) -> None:
    claims = Claims(URL_70, ULID_A, ULID_B, 7, 1_790_000_000, "hero button")
    got = verify(sign(claims, ring.signing_key), ring)
    assert got == Claims(URL_70, ULID_A, ULID_B, 7, 1_790_000_000, "hero button", "0a0b0c0d", 1)


def test_token_is_compact(ring: KeyRing) -> None:
    assert len(URL_70) == 70
    token = sign(Claims(URL_70, ULID_A, ULID_B, 12, 1_790_000_000), ring.signing_key)
    assert len(token) <= 180, len(token)
    raw_ids = sign(Claims(URL_70, "m" * 26, "r" * 25 + "@", 12, 1_790_000_000), ring.signing_key)
    assert len(raw_ids) <= 185, len(raw_ids)


@pytest.mark.parametrize(
    "ident",
    [
        "",
        "12345",
        "00042",
        "deadbeef",
        "DEADBEEF",
        ULID_A,
        ULID_A.lower(),
        "user_9Zx",
        "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "alice@example.com",
        "ünïcode ✓",
        "x" * 300,
    ],
)
def test_every_id_alphabet_round_trips(ring: KeyRing, ident: str) -> None:
    claims = Claims("http://a.example/", ident, ident, 0, 0, ident)
    assert verify(sign(claims, ring.signing_key), ring).message_id == ident


def test_tampering_anywhere_breaks_the_signature(ring: KeyRing) -> None:
    token = sign(Claims(URL_70, ULID_A, ULID_B, 1, 5), ring.signing_key)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    for i in range(5, len(raw)):
        forged = bytearray(raw)
        forged[i] ^= 0x01
        forged_token = base64.urlsafe_b64encode(bytes(forged)).rstrip(b"=").decode()
        with pytest.raises(BadSignature):
            verify(forged_token, ring)


def test_errors_say_why(ring: KeyRing) -> None:
    token = sign(Claims(URL_70, ULID_A, ULID_B, 1, 5), ring.signing_key)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))

    def enc(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    with pytest.raises(MalformedToken):
        verify("not a token!", ring)
    with pytest.raises(MalformedToken):
        verify(token[:10], ring)
    with pytest.raises(UnknownVersion):
        verify(enc(b"\x09" + raw[1:]), ring)
    with pytest.raises(UnknownKey):
        verify(enc(raw[:1] + b"\xff\xff\xff\xff" + raw[5:]), ring)
    retired = KeyRing([SigningKey("0a0b0c0d", bytes(range(32)), 1, retired_at=2)])
    with pytest.raises(RetiredKey):
        verify(token, retired)
    other_secret = KeyRing([SigningKey("0a0b0c0d", b"\x01" * 32, 1)])
    with pytest.raises(BadSignature):
        verify(token, other_secret)


def test_non_canonical_base64_is_refused(ring: KeyRing) -> None:
    token = sign(Claims("http://a.example/x", "m", "r", 0, 0), ring.signing_key)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    variants = [token[:-1] + c for c in alphabet if c != token[-1]]
    # Changing the last character either changes the bytes or only its unused low bits.
    for variant in variants:
        with pytest.raises(TokenError):
            verify(variant, ring)


def test_rotation_old_links_keep_working() -> None:
    old = SigningKey("00000001", b"a" * 32, 100)
    new = SigningKey("00000002", b"b" * 32, 200)
    token = sign(Claims("https://x.example/", "m", "r", 0, 0), old)
    ring = KeyRing([old, new])
    assert ring.signing_key is new
    assert verify(token, ring).key_id == "00000001"


@given(
    url=st.text(),
    message_id=st.text(),
    recipient_id=st.text(),
    index=st.integers(min_value=0, max_value=2**40),
    sent_at=st.integers(min_value=0, max_value=2**40),
    label=st.none() | st.text(),
)
def test_sign_verify_round_trips_anything(
    url: str, message_id: str, recipient_id: str, index: int, sent_at: int, label: str | None
) -> None:
    ring = KeyRing([SigningKey("01020304", b"k" * 32, 1)])
    claims = Claims(url, message_id, recipient_id, index, sent_at, label, "01020304")
    assert verify(sign(claims, ring.signing_key), ring) == claims


@given(st.text() | st.binary().map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")))
def test_verify_raises_only_token_errors(token: str) -> None:
    ring = KeyRing([SigningKey("01020304", b"k" * 32, 1)])
    try:
        verify(token, ring)
    except TokenError:
        pass
    else:  # a random string passing a 128-bit MAC would be a broken MAC
        raise AssertionError("a random token verified")


@given(st.binary(min_size=0, max_size=300))
def test_verify_survives_garbage_with_a_valid_header(tail: bytes) -> None:
    ring = KeyRing([SigningKey("01020304", b"k" * 32, 1)])
    token = base64.urlsafe_b64encode(b"\x01\x01\x02\x03\x04" + tail).rstrip(b"=").decode()
    with pytest.raises(TokenError):
        verify(token, ring)


@given(st.binary(max_size=200), st.binary(max_size=500))
def test_hmac_is_rfc_2104(secret: bytes, data: bytes) -> None:
    assert hmac_sha256(secret, data) == hmac.digest(secret, data, "sha256")
