"""Frames between workers and the writer process: a 4-byte length, then JSON. Pure."""

from __future__ import annotations

import json
import struct
from typing import Any

from redirector.hits import Hit

_LENGTH = struct.Struct(">I")
HEADER_BYTES = _LENGTH.size
MAX_FRAME_BYTES = 64 * 1024 * 1024


class FrameError(ValueError):
    pass


def encode(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    return _LENGTH.pack(len(body)) + body


def body_length(header: bytes) -> int:
    (length,) = _LENGTH.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {length} bytes")
    return int(length)


def decode(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body.decode("utf-8", "surrogatepass"))
    except ValueError as e:
        raise FrameError(str(e)) from None
    if not isinstance(message, dict):
        raise FrameError("not an object")
    return message


def batch_message(batch_id: int, hits: list[Hit]) -> dict[str, Any]:
    return {"id": batch_id, "hits": [list(hit) for hit in hits]}


_FIELD_TYPES = (str, float, str, str, str, str, int, str, int, str, str)


def hits_of(message: dict[str, Any]) -> list[Hit]:
    try:
        hits = [Hit(*fields) for fields in message["hits"]]
    except (KeyError, TypeError) as e:
        raise FrameError(f"bad batch: {e}") from None
    for hit in hits:
        for value, kind in zip(hit, _FIELD_TYPES, strict=True):
            ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
            if not ok or isinstance(value, bool):
                raise FrameError(f"bad batch: {value!r} is not {kind.__name__}")
    return hits
