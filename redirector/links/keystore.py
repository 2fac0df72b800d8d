"""The key ring on disk: `keys.json` in the data folder, created on first use.

`with_new_key` and `with_retired_key` decide a rotation and a retirement (pure): the
file's commands here and the PostgreSQL ring (`proxy.store.keys`, whose mirror this file
is then) make the same changes.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from config.datafolder import file_lock, unused_path, write_private_file
from redirector.links.errors import KeyRingError
from redirector.links.keyring import KEY_ID_BYTES, SECRET_BYTES, KeyRing, SigningKey

__all__ = [
    "KEYS_FILE",
    "load_keyring",
    "read_keyring",
    "retire_key",
    "rotate_key",
    "with_new_key",
    "with_retired_key",
    "write_keyring",
]

KEYS_FILE = "keys.json"
_LOCK_FILE = ".keys.lock"


def load_keyring(data_dir: Path, now: int) -> KeyRing:
    """The data folder's key ring, making its first key if it has none."""
    path = data_dir / KEYS_FILE
    if not path.exists():
        with file_lock(data_dir / _LOCK_FILE):
            if not path.exists():
                _save(path, [_new_key(now, [])])
    return read_keyring(data_dir)


def read_keyring(data_dir: Path) -> KeyRing:
    """The key ring as the file holds it; KeyRingError (one line) if it is missing or
    anything in it is not what a key ring holds."""
    return _load(data_dir / KEYS_FILE)


def rotate_key(data_dir: Path, now: int) -> SigningKey:
    """Add a new signing key; the older ones keep verifying."""
    with file_lock(data_dir / _LOCK_FILE):
        path = data_dir / KEYS_FILE
        keys, key = with_new_key(_load(path).keys if path.exists() else (), now)
        _save(path, keys)
        return key


def retire_key(data_dir: Path, key_id: str, now: int) -> SigningKey:
    """Retire a key: links it signed stop verifying. The last active key cannot go."""
    with file_lock(data_dir / _LOCK_FILE):
        keys, retired = with_retired_key(_load(data_dir / KEYS_FILE), key_id, now)
        _save(data_dir / KEYS_FILE, keys)
        return retired


def write_keyring(
    data_dir: Path, keys: Sequence[SigningKey], keep_aside: str | None = None
) -> Path | None:
    """Replace the file with `keys` (0600, atomically: a reader sees the old or the new).
    With `keep_aside`, the file as it was is copied first (0600) to keys.json.<keep_aside>
    (-2, -3… when taken): that copy's path. Under the ring's lock, as every writer: a
    worker starting meanwhile finds the old file or the new one, never none."""
    with file_lock(data_dir / _LOCK_FILE):
        path = data_dir / KEYS_FILE
        kept = None
        if keep_aside is not None and path.exists():
            kept = unused_path(data_dir / f"{KEYS_FILE}.{keep_aside}")
            write_private_file(kept, path.read_bytes())
        _save(path, list(keys))
        return kept


def with_new_key(keys: Sequence[SigningKey], now: int) -> tuple[list[SigningKey], SigningKey]:
    """`keys` and a new signing key after them; the new one."""
    # The newest key signs; make sure the new one sorts last even within one second.
    newest = max((k.created_at for k in keys), default=now - 1)
    key = _new_key(max(now, newest + 1), list(keys))
    return [*keys, key], key


def with_retired_key(ring: KeyRing, key_id: str, now: int) -> tuple[list[SigningKey], SigningKey]:
    """The ring's keys with `key_id` retired at `now`; the retired key. KeyRingError if
    it is unknown, already retired, or the only active key."""
    keys, target = ring.keys, ring.find(key_id)
    if target.retired:
        raise KeyRingError(f"key {target.key_id} is already retired")
    if all(k.retired or k is target for k in keys):
        raise KeyRingError(
            f"key {target.key_id} is the only active key; run `trackway keys rotate` first"
        )
    retired = SigningKey(target.key_id, target.secret, target.created_at, now)
    return [retired if k is target else k for k in keys], retired


def _new_key(now: int, existing: list[SigningKey]) -> SigningKey:
    taken = {k.key_id for k in existing}
    while True:
        key_id = secrets.token_hex(KEY_ID_BYTES)
        if key_id not in taken:
            return SigningKey(key_id, secrets.token_bytes(SECRET_BYTES), now)


def _load(path: Path) -> KeyRing:
    try:
        return KeyRing(_keys(json.loads(path.read_text("utf-8"))))
    except KeyRingError as e:
        raise KeyRingError(f"cannot read the key ring {path}: {e}") from None
    except OSError as e:
        raise KeyRingError(f"cannot read the key ring {path}: {e.strerror or e}") from None
    except (ValueError, RecursionError) as e:  # not JSON, not UTF-8; nested past reason
        raise KeyRingError(f"cannot read the key ring {path}: {e}") from None


def _keys(doc: object) -> list[SigningKey]:
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise KeyRingError('it is not {"keys": [...]}')
    return [_key(number, key) for number, key in enumerate(doc["keys"], 1)]


def _key(number: int, doc: object) -> SigningKey:
    if not isinstance(doc, dict):
        raise KeyRingError(f"key {number} is not an object")
    missing = {"id", "secret", "created_at"} - doc.keys()
    if missing:
        raise KeyRingError(f"key {number} has no {', '.join(sorted(missing))}")
    try:
        secret = base64.b64decode(doc["secret"], validate=True)
    except (TypeError, ValueError):
        raise KeyRingError(f"key {number}: its secret is not base64") from None
    try:
        return SigningKey(doc["id"], secret, doc["created_at"], doc.get("retired_at"))
    except KeyRingError as e:
        raise KeyRingError(f"key {number}: {e}") from None


def _save(path: Path, keys: list[SigningKey]) -> None:
    doc: dict[str, Any] = {
        "keys": [
            {
                "id": k.key_id,
                "secret": base64.b64encode(k.secret).decode("ascii"),
                "created_at": k.created_at,
                "retired_at": k.retired_at,
            }
            for k in keys
        ]
    }
    write_private_file(path, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))
