"""The record format: every good record found in a file's bytes, whatever is around it."""

from __future__ import annotations

import pytest

from redirector.recording.spool.records import MARKER, OVERHEAD, record, scan

A, B, C = record(b"first"), record(b"second" + MARKER + b"inside"), record(b"third")
ZEROS = b"\0" * 4096


def flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1 :]


# (name, bytes, payloads found, damaged stretches (offset, bytes), cut short at, clean)
CASES = [
    ("records", A + B + C, [b"first", B[12:-4], b"third"], [], None, 3),
    ("zeros after them", A + B + ZEROS, [b"first", B[12:-4]], [], None, 2),
    ("nothing yet", ZEROS, [], [], None, 0),
    ("a flipped payload byte", A + flipped(B, 14) + C, [b"first", b"third"],
     [(len(A), len(B))], None, 1),
    ("a flipped marker", A + flipped(B, 0) + C, [b"first", b"third"],
     [(len(A), len(B))], None, 1),
    ("a flipped end marker", A + flipped(B, len(B) - 1) + C, [b"first", b"third"],
     [(len(A), len(B))], None, 1),
    ("a length too long", A + B[:4] + b"\xff\xff\x00\x00" + B[8:] + C, [b"first", b"third"],
     [(len(A), len(B))], None, 1),
    ("garbage between", A + b"junk" + C, [b"first", b"third"], [(len(A), 4)], None, 1),
    ("a torn page of zeros", A + B[:10] + b"\0" * (len(B) - 10) + C, [b"first", b"third"],
     [(len(A), len(B))], None, 1),
    ("garbage at the start", b"junk" + A, [b"first"], [(0, 4)], None, 0),
    ("a last write cut short", A + B[:20], [b"first"], [], len(A), 1),
    ("cut short, then zeros", A + B[:20] + ZEROS, [b"first"], [], len(A), 1),
    ("a cut header", A + B[:6], [b"first"], [], len(A), 1),
    ("a cut marker, then zeros", A + B[:2] + ZEROS, [b"first"], [], len(A), 1),
    ("a marker's first byte", A + B[:1], [b"first"], [], len(A), 1),
    ("a damaged last record", A + flipped(C, 13), [b"first"], [(len(A), len(C))], None, 1),
    ("trailing garbage", A + b"junk", [b"first"], [(len(A), 4)], None, 1),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "payloads", "damaged", "cut_short", "clean"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_scan(
    data: bytes,
    payloads: list[bytes],
    damaged: list[tuple[int, int]],
    cut_short: int | None,
    clean: int,
) -> None:
    found = scan(data)
    assert found.payloads == payloads
    assert found.damaged == damaged
    assert found.cut_short == cut_short
    assert found.clean == clean  # what a reader of a file still being written takes


def test_a_live_reader_stops_where_the_doubt_starts() -> None:
    assert scan(A + B + ZEROS).clean_end == len(A + B)  # the next record goes there
    assert scan(A + B[:20] + ZEROS).clean_end == len(A)  # on its way, maybe
    assert scan(A + flipped(B, 14) + C).clean_end == len(A)


def test_record_layout() -> None:
    assert len(record(b"x" * 1000)) == 1000 + OVERHEAD
    assert record(b"").startswith(MARKER)
