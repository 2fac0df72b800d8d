from __future__ import annotations

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
