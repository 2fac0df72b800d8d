from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redirector import writer_frames
from redirector.hits import Hit

HIT = Hit(
    "id1", 1.5, "click", "k", "m", "r", 3, "https://x.example/", 1_700_000_000, "UA", "127.0.0.1"
)


def test_round_trip() -> None:
    frame = writer_frames.encode(writer_frames.batch_message(7, [HIT, HIT]))
    length = writer_frames.body_length(frame[: writer_frames.HEADER_BYTES])
    message = writer_frames.decode(frame[writer_frames.HEADER_BYTES :])
    assert length == len(frame) - writer_frames.HEADER_BYTES
    assert message["id"] == 7
    assert writer_frames.hits_of(message) == [HIT, HIT]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"hits": 3}',
        b'{"hits": [[1, 2]]}',
        b'{"id": 1, "hits": [["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]]}',
    ],
)
def test_bad_frames_are_frame_errors(body: bytes) -> None:
    with pytest.raises(writer_frames.FrameError):
        writer_frames.hits_of(writer_frames.decode(body))


def test_oversized_frames_are_refused() -> None:
    with pytest.raises(writer_frames.FrameError):
        writer_frames.body_length((writer_frames.MAX_FRAME_BYTES + 1).to_bytes(4, "big"))


@given(st.binary(max_size=300))
def test_garbage_never_raises_anything_else(body: bytes) -> None:
    with contextlib.suppress(writer_frames.FrameError):
        writer_frames.hits_of(writer_frames.decode(body))
