"""Signing keys: the newest active key signs, every key that is not retired verifies."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from redirector.links.errors import KeyRingError, RetiredKey, UnknownKey, UnknownKeyId

KEY_ID_BYTES = 4
SECRET_BYTES = 32  # HMAC-SHA256's own size: shorter is weaker, and empty signs for anyone
_KEY_ID = re.compile(f"[0-9a-f]{{{2 * KEY_ID_BYTES}}}")


@dataclass(frozen=True)
class SigningKey:
    key_id: str  # 8 lowercase hex digits; its 4 bytes travel in every token
    secret: bytes
    created_at: int  # unix seconds
    retired_at: int | None = None

    def __post_init__(self) -> None:
        """KeyRingError unless every field is what a key needs (never shows the secret)."""
        if not isinstance(self.key_id, str) or not _KEY_ID.fullmatch(self.key_id):
            raise KeyRingError(
                f"id {self.key_id!r:.24} is not {2 * KEY_ID_BYTES} lowercase hex digits"
            )
        if not isinstance(self.secret, bytes) or len(self.secret) != SECRET_BYTES:
            size = len(self.secret) if isinstance(self.secret, bytes) else "not"
            raise KeyRingError(f"its secret is {size} bytes, not {SECRET_BYTES}")
        for name in ("created_at", "retired_at"):
            value = getattr(self, name)
            if not (type(value) is int or (value is None and name == "retired_at")):
                raise KeyRingError(f"{name} is not a whole number of seconds")

    def __repr__(self) -> str:  # never show the secret
        return f"SigningKey(key_id={self.key_id!r}, retired={self.retired_at is not None})"

    @property
    def retired(self) -> bool:
        return self.retired_at is not None

    @functools.cached_property
    def id_bytes(self) -> bytes:
        return bytes.fromhex(self.key_id)


class KeyRing:
    def __init__(self, keys: Iterable[SigningKey]) -> None:
        self.keys: tuple[SigningKey, ...] = tuple(keys)
        self._by_id = {key.id_bytes: key for key in self.keys}
        if len(self._by_id) != len(self.keys):  # a token could not say which key
            ids = [key.key_id for key in self.keys]
            raise KeyRingError(f"two keys share the id {max(ids, key=ids.count)}")
        active = [key for key in self.keys if not key.retired]
        self._signing = max(active, key=lambda k: k.created_at) if active else None

    @property
    def signing_key(self) -> SigningKey:
        if self._signing is None:
            raise KeyRingError("every key is retired; run `trackway keys rotate`")
        return self._signing

    def verifying_key(self, key_id: bytes) -> SigningKey:
        key = self._by_id.get(key_id)
        if key is None:
            raise UnknownKey(key_id.hex())
        if key.retired:
            raise RetiredKey(key.key_id)
        return key

    def find(self, key_id: str) -> SigningKey:
        for key in self.keys:
            if key.key_id == key_id.lower():
                return key
        raise UnknownKeyId(f"no key with id {key_id!r}")
