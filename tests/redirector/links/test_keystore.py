from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from redirector import (
    Claims,
    KeyRingError,
    RetiredKey,
    load_keyring,
    retire_key,
    rotate_key,
    sign,
    verify,
)


def test_first_use_creates_a_private_key_ring(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ring = load_keyring(data, 1000)
    assert len(ring.keys) == 1
    assert stat.S_IMODE((data / "keys.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert load_keyring(data, 2000).keys == ring.keys
    assert ring.signing_key.secret.hex() not in repr(ring.signing_key)


def test_rotate_then_retire(tmp_path: Path) -> None:
    first = load_keyring(tmp_path, 1000).signing_key
    token = sign(Claims("https://a.example/", "m", "r", 0, 0), first)
    second = rotate_key(tmp_path, 1000)
    ring = load_keyring(tmp_path, 1001)
    assert ring.signing_key.key_id == second.key_id
    assert verify(token, ring).key_id == first.key_id
    retire_key(tmp_path, first.key_id, 1002)
    with pytest.raises(RetiredKey):
        verify(token, load_keyring(tmp_path, 1003))


def test_the_last_active_key_cannot_be_retired(tmp_path: Path) -> None:
    only = load_keyring(tmp_path, 1000).signing_key
    with pytest.raises(KeyRingError, match="rotate"):
        retire_key(tmp_path, only.key_id, 1001)
    with pytest.raises(KeyRingError, match="no key"):
        retire_key(tmp_path, "ffffffff", 1001)


def test_a_damaged_key_ring_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "keys.json").write_text("{not json")
    with pytest.raises(KeyRingError, match="cannot read the key ring"):
        load_keyring(tmp_path, 1)


GOOD = {"id": "0a0b0c0d", "secret": base64.b64encode(b"s" * 32).decode(), "created_at": 1}
MALFORMED = {
    "not JSON": b"{not json",
    "not UTF-8": b'{"keys": [{"id": "\xff"}]}',
    "deeply nested": b"[" * 100_000,
    "not an object": b"[]",
    "no keys": b"{}",
    "keys not a list": json.dumps({"keys": {"0a0b0c0d": GOOD}}).encode(),
    "a key not an object": json.dumps({"keys": ["0a0b0c0d"]}).encode(),
    "non-hex id": json.dumps({"keys": [{**GOOD, "id": "0a0b0c0z"}]}).encode(),
    "short id": json.dumps({"keys": [{**GOOD, "id": "0a0b0c"}]}).encode(),
    "upper-case id": json.dumps({"keys": [{**GOOD, "id": "0A0B0C0D"}]}).encode(),
    "id a number": json.dumps({"keys": [{**GOOD, "id": 10111213}]}).encode(),
    "no id": json.dumps({"keys": [{k: v for k, v in GOOD.items() if k != "id"}]}).encode(),
    "empty secret": json.dumps({"keys": [{**GOOD, "secret": ""}]}).encode(),
    "short secret": json.dumps(
        {"keys": [{**GOOD, "secret": base64.b64encode(b"s" * 16).decode()}]}
    ).encode(),
    "secret not base64": json.dumps({"keys": [{**GOOD, "secret": "not base64!"}]}).encode(),
    "secret a number": json.dumps({"keys": [{**GOOD, "secret": 7}]}).encode(),
    "created_at text": json.dumps({"keys": [{**GOOD, "created_at": "1"}]}).encode(),
    "created_at true": json.dumps({"keys": [{**GOOD, "created_at": True}]}).encode(),
    "created_at a fraction": json.dumps({"keys": [{**GOOD, "created_at": 1.5}]}).encode(),
    "retired_at text": json.dumps({"keys": [{**GOOD, "retired_at": "soon"}]}).encode(),
    "two keys, one id": json.dumps({"keys": [GOOD, GOOD]}).encode(),
}


@pytest.mark.parametrize("content", MALFORMED.values(), ids=MALFORMED.keys())
def test_every_malformed_key_ring_is_a_key_ring_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "keys.json").write_bytes(content)
    with pytest.raises(KeyRingError, match=r"^cannot read the key ring .*keys\.json: ") as e:
        load_keyring(tmp_path, 1)
    assert "\n" not in str(e.value)
    assert base64.b64encode(b"s" * 32).decode() not in str(e.value)  # never the secret


def test_a_well_formed_key_ring_loads(tmp_path: Path) -> None:
    (tmp_path / "keys.json").write_text(json.dumps({"keys": [{**GOOD, "retired_at": None}]}))
    (key,) = load_keyring(tmp_path, 1).keys
    assert (key.key_id, key.secret, key.created_at, key.retired_at) == (
        "0a0b0c0d", b"s" * 32, 1, None,
    )  # fmt: skip
