"""The spool's record format, and finding the records in a file's bytes. Pure.

A record: a marker, the payload's length and a CRC-32 of length and payload (little
endian), the payload, an end marker. The markers let a reader that meets damage (a
flipped byte, a torn page) scan forward to the next good record instead of losing the
rest of the file; the CRC covering the length makes a damaged length field a damaged
record like any other. A file's unused tail is zeros (space reserved ahead, or a crash
before the writer trimmed it), which no record starts with.

Files of the version before the markers (`.spool`, not `.v2.spool`) hold length, CRC
and payload only: read by following the lengths, as then; damage ends their reading.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

MARKER = b"\xa9tw\x02"
END = b"\x03wt\xa9"
_HEADER = struct.Struct("<4sII")  # marker, payload length, CRC-32 of length and payload
_LENGTH = struct.Struct("<I")
OVERHEAD = _HEADER.size + len(END)
MAX_PAYLOAD = 1 << 30  # a longer length field is damage: no batch comes near it
_LEGACY_HEADER = struct.Struct("<II")  # payload length, CRC-32 of the payload


def record(payload: bytes) -> bytes:
    length = len(payload)
    crc = zlib.crc32(payload, zlib.crc32(_LENGTH.pack(length)))
    return _HEADER.pack(MARKER, length, crc) + payload + END


@dataclass
class Scan:
    """What a file's bytes hold, from where the reading started (offsets relative)."""

    payloads: list[bytes] = field(default_factory=list)
    clean: int = 0  # payloads before the first bad stretch: what a live file may give
    clean_end: int = 0  # where the first bad stretch (or the unused tail) starts
    damaged: list[tuple[int, int]] = field(default_factory=list)  # (offset, bytes) skipped
    cut_short: int | None = None  # offset of a last record whose write never finished


def scan(data: bytes) -> Scan:
    """Every good record, skipping damage. A bad stretch after which no good record
    comes is damage too, unless it is a record cut short: its marker, then less than
    its length says (as a process killed mid-write leaves it)."""
    found = Scan()
    end = len(data.rstrip(b"\0"))  # a record ends with END: trailing zeros are unused
    pos = 0
    while pos < end:
        payload = _good(data, pos, end)
        if payload is not None:
            found.payloads.append(payload)
            pos += len(payload) + OVERHEAD
            if not found.damaged and found.cut_short is None:
                found.clean, found.clean_end = len(found.payloads), pos
            continue
        found_next = _next_good(data, pos + 1, end)
        following = end if found_next is None else found_next
        if found_next is None and _cut_short(data, pos, end):
            found.cut_short = pos
        else:
            found.damaged.append((pos, following - pos))
        pos = following
    if not found.damaged and found.cut_short is None:
        found.clean_end = end
    return found


def _good(data: bytes, pos: int, end: int) -> bytes | None:
    if end - pos < OVERHEAD:
        return None
    marker, length, crc = _HEADER.unpack_from(data, pos)
    stop = pos + _HEADER.size + length
    if marker != MARKER or length > MAX_PAYLOAD or stop + len(END) > end:
        return None
    if data[stop : stop + len(END)] != END:
        return None
    payload = data[pos + _HEADER.size : stop]
    if zlib.crc32(payload, zlib.crc32(_LENGTH.pack(length))) != crc:
        return None
    return payload


def _next_good(data: bytes, start: int, end: int) -> int | None:
    # A candidate inside a damaged record's payload would need a length field with a
    # NUL byte in it, which no request header (the part of a hit a client controls)
    # carries; and it must pass the CRC.
    pos = data.find(MARKER, start, end)
    while pos >= 0:
        if _good(data, pos, end) is not None:
            return pos
        pos = data.find(MARKER, pos + 1, end)
    return None


def _cut_short(data: bytes, pos: int, end: int) -> bool:
    if end - pos < len(MARKER):  # killed within the marker itself (a page boundary)
        return MARKER.startswith(data[pos:end])
    if data[pos : pos + len(MARKER)] != MARKER:
        return False
    if end - pos < _HEADER.size:
        return True
    length: int = _HEADER.unpack_from(data, pos)[1]
    return pos + _HEADER.size + length + len(END) > end


def scan_legacy(data: bytes) -> Scan:
    """A file of the version before the markers: damage ends its reading."""
    found = Scan()
    pos = 0
    while len(data) - pos >= _LEGACY_HEADER.size:
        length, crc = _LEGACY_HEADER.unpack_from(data, pos)
        stop = pos + _LEGACY_HEADER.size + length
        if stop > len(data):
            found.cut_short = pos
            break
        payload = data[pos + _LEGACY_HEADER.size : stop]
        if length == 0 or zlib.crc32(payload) != crc:
            found.damaged.append((pos, len(data) - pos))
            break
        found.payloads.append(payload)
        pos = stop
    else:
        if pos < len(data):
            found.cut_short = pos
    found.clean = len(found.payloads)
    found.clean_end = pos
    return found
