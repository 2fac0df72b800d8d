"""Message ids made when a sender gives none: ULIDs (time-ordered, 26 characters)."""

from __future__ import annotations

import secrets

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now_ms: int, randomness: bytes | None = None) -> str:
    rand = secrets.token_bytes(10) if randomness is None else randomness
    number = (now_ms & (2**48 - 1)) << 80 | int.from_bytes(rand[:10], "big")
    return "".join(_CROCKFORD[(number >> shift) & 31] for shift in range(125, -1, -5))
