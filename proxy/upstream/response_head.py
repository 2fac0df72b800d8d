"""An upstream's answer as the proxy's fast path reads it: its head, and where its body
ends (RFC 9112 §6.3). Pure: bytes in, a head, a verdict or `Malformed` out; a chunked
body decoded as it arrives, its extensions and trailers dropped (as aiohttp's client
drops them on the other path).
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

# How the body is framed. NO_BODY: a HEAD's answer, 1xx, 204, 304.
NO_BODY: Final = 0
LENGTH: Final = 1
CHUNKED: Final = 2
UNTIL_CLOSE: Final = 3

# aiohttp's client takes heads up to about this size too (8190 a line, 128 fields).
MAX_HEAD_BYTES: Final = 64 * 1024
MAX_CHUNK_LINE: Final = 4096

_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: ([^\r\n]*))?\r\n")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")


class Malformed(Exception):
    """Not an answer this proxy passes on: the upstream is broken (a 502)."""


class ResponseHead(NamedTuple):
    head_bytes: int  # of the buffer, up to and including the blank line
    status: int
    reason: str
    fields: list[tuple[str, str]]  # as sent, in order (latin-1 text), values trimmed
    framing: int
    length: int  # LENGTH: the body's bytes
    reusable: bool  # the upstream keeps the connection for another request after it


def parse_response(buffer: bytes, *, to_head: bool) -> ResponseHead | None:
    """The answer's head at the start of `buffer`, or None until it is whole.
    `to_head`: the answer to a HEAD request (never a body, whatever it says)."""
    end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD_BYTES)
    if end < 0:
        if len(buffer) >= MAX_HEAD_BYTES:
            raise Malformed("an answer's head over 64 KiB")
        return None
    line = _STATUS_LINE.match(buffer, 0, end + 2)
    if line is None:
        raise Malformed(f"status line {buffer[:40]!r}")
    text = buffer[line.end() : end].decode("latin-1")
    if text.count("\r") != text.count("\n") or text.count("\r\n") != text.count("\n"):
        raise Malformed("a field line that does not end in CRLF")
    status = int(line.group(2))
    reusable = line.group(1) == b"1"  # HTTP/1.0: its keep-alive rules are not ours to keep
    length: int | None = None
    chunked = False
    fields = []
    for field in text.split("\r\n") if text else ():
        name, colon, value = field.partition(":")
        if not colon or not name or name[0] in " \t" or name[-1] in " \t":
            raise Malformed(f"field line {field[:40]!r}")
        value = value.strip(" \t")
        lower = name.lower()
        if lower == "content-length":
            if not value.isdigit() or (length is not None and int(value) != length):
                raise Malformed(f"Content-Length {value!r}")
            length = int(value)
        elif lower == "transfer-encoding":
            if value.rpartition(",")[2].strip(" \t").lower() != "chunked":
                raise Malformed(f"Transfer-Encoding {value!r}")
            chunked = True
        elif lower == "connection" and "close" in {
            o.strip(" \t").lower() for o in value.split(",")
        }:
            reusable = False
        fields.append((name, value))
    if chunked and length is not None:
        raise Malformed("both Content-Length and Transfer-Encoding")
    if to_head or status < 200 or status in (204, 304):
        framing = NO_BODY
    elif chunked:
        framing = CHUNKED
    elif length is not None:
        framing = LENGTH
    else:
        framing, reusable = UNTIL_CLOSE, False
    reason = (line.group(3) or b"").decode("latin-1")
    return ResponseHead(end + 4, status, reason, fields, framing, length or 0, reusable)


_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class ChunkedBody:
    """A chunked body (RFC 9112 §7.1) decoded as it arrives: `feed` gives its data;
    `done` once the last chunk and the trailer section are in, `extra` then counts the
    bytes fed past its end."""

    def __init__(self) -> None:
        self._state = _SIZE
        self._left = 0
        self._partial = b""
        self.extra = 0

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes) -> list[bytes]:
        if self._partial:
            data, self._partial = self._partial + data, b""
        pieces = []
        at, size = 0, len(data)
        while at < size and self._state != _DONE:
            if self._state == _DATA:
                take = min(self._left, size - at)
                pieces.append(data[at : at + take])
                at += take
                self._left -= take
                if not self._left:
                    self._state = _DATA_END
                continue
            stop = data.find(b"\r\n", at)
            if stop < 0:
                if size - at > MAX_CHUNK_LINE:
                    raise Malformed("a chunk line over 4 KiB")
                self._partial = data[at:]
                return pieces
            line, at = data[at:stop], stop + 2
            if self._state == _SIZE:
                digits = line.partition(b";")[0].strip(b" \t")
                if _HEX.fullmatch(digits) is None:
                    raise Malformed(f"chunk size {line[:20]!r}")
                self._left = int(digits, 16)
                self._state = _DATA if self._left else _TRAILER
            elif self._state == _DATA_END:
                if line:
                    raise Malformed("chunk data longer than its size")
                self._state = _SIZE
            elif not line:  # _TRAILER: its fields are dropped, the blank line ends it
                self._state = _DONE
        self.extra = size - at
        return pieces


def chunk(data: bytes) -> bytes:
    """`data` as one chunk of a chunked body (never empty: that is the last chunk)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK: Final = b"0\r\n\r\n"
