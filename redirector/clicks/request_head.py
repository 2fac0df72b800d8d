"""The plain requests the click fast path answers itself. Pure: bytes in, a verdict out.

A recipient's click is a `GET /c/<token> HTTP/1.1` with a handful of headers. This
module recognises exactly that shape (and `/a/`, `/o/`, `/healthz`, `HEAD`) and nothing
more (an `/a/` request whose Accept names JSON is an app's, for aiohttp's path to weigh):
a request with a body, a query, percent-escapes, folded or odd header lines, or any
framing header is `NOT_PLAIN`, and the connection goes to aiohttp's full HTTP parser,
which answers it (or its error) as it always has. So the fast path never has to
be right about the corners of HTTP/1.1: it only has to refuse them.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

# The longest head the fast path takes; aiohttp's own limits apply to longer ones.
MAX_HEAD_BYTES: Final = 8190


class PlainRequest(NamedTuple):
    head_bytes: int  # of the buffer, up to and including the blank line
    is_head: bool  # HEAD, not GET
    path: str  # "/c/<token>", "/a/<token>", "/o/<token>" or "/healthz"
    keep_alive: bool
    user_agent: str
    forwarded_for: str  # every X-Forwarded-For value, joined by ", " (as one list), or ""
    host: str  # the Host header's value, as sent


class _Verdict:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_MORE: Final = _Verdict("NEED_MORE")  # no whole head yet
NOT_PLAIN: Final = _Verdict("NOT_PLAIN")  # a request for the full parser

# HTTP/1.1 only: a 1.0 client's keep-alive rules are aiohttp's to follow.
_REQUEST_LINE = re.compile(rb"(GET|HEAD) (/[aco]/[A-Za-z0-9_-]+|/healthz) HTTP/1\.1\r\n")
# Controls no header value may hold (HTAB may; CR and LF are checked as line ends).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_FIELDS = 100  # aiohttp refuses more than 128
# A line break not followed by `name:` (a folded line, a space before the colon …).
_ODD_FIELD_LINE = re.compile(rb"\n(?![!#$%&'*+.^_`|~0-9A-Za-z-]+:)")
# Headers that change how the message is framed or what the connection becomes, and
# those aiohttp allows once that a click has no use for: whoever sends them gets the
# full parser (in lowercase field lines).
_FULL_PARSER_FIELDS = re.compile(
    rb"\n(?:content-(?:length|location|range|type)|transfer-encoding|expect|upgrade|etag"
    rb"|max-forwards|server):"
)
_OWS = b" \t"


def parse_plain(buffer: bytes) -> PlainRequest | _Verdict:
    end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD_BYTES + 4)
    if end < 0:
        if (
            len(buffer) >= MAX_HEAD_BYTES + 4
            or buffer.count(b"\n") != buffer.count(b"\r\n")
            or not (b"GET /".startswith(buffer[:5]) or b"HEAD /".startswith(buffer[:6]))
        ):
            # Too long, lines that end in a bare LF, or not a GET or HEAD (a TLS
            # handshake, say): never plain, and aiohttp answers it now.
            return NOT_PLAIN
        return NEED_MORE
    line = _REQUEST_LINE.match(buffer, 0, end + 2)
    if line is None:
        return NOT_PLAIN
    # The header lines, each after its CRLF: "\r\nName: value\r\nName: value".
    fields = buffer[line.end() - 2 : end]
    crlfs = fields.count(b"\r\n")
    if (
        crlfs > MAX_FIELDS
        or fields.count(b"\r") != crlfs
        or fields.count(b"\n") != crlfs
        or _CONTROL.search(fields) is not None
        or _ODD_FIELD_LINE.search(fields) is not None
    ):
        return NOT_PLAIN
    names = fields.lower()  # the same length: offsets found in it hold in `fields`
    if _FULL_PARSER_FIELDS.search(names) is not None:
        return NOT_PLAIN
    # As aiohttp: HTTP/1.1 needs one Host (RFC 9112 §3.2), and Host or User-Agent twice
    # is a bad request (theirs to answer); Connection twice is theirs to combine.
    if (
        names.count(b"\nhost:") != 1
        or names.count(b"\nuser-agent:") > 1
        or names.count(b"\nconnection:") > 1
    ):
        return NOT_PLAIN
    if buffer[line.start(2) + 1] == 0x61 and b"json" in (  # "/a/": an app may want JSON
        _every_field(names, names, b"\naccept:") or b""
    ):
        return NOT_PLAIN
    keep_alive = True
    connection = _field(fields, names, b"\nconnection:")
    if connection is not None:
        options = {o.strip(_OWS).lower() for o in connection.split(b",")}
        keep_alive = b"close" not in options
    return PlainRequest(
        end + 4,
        line.group(1) == b"HEAD",
        line.group(2).decode("ascii"),
        keep_alive,
        _text(_field(fields, names, b"\nuser-agent:")),
        _text(_every_field(fields, names, b"\nx-forwarded-for:")),
        _text(_field(fields, names, b"\nhost:")),
    )


def _field(fields: bytes, names: bytes, key: bytes) -> bytes | None:
    """The first value of a header (`key` is its lowercase "\\nname:"), or None."""
    at = names.find(key)
    if at < 0:
        return None
    start = at + len(key)
    stop = fields.find(b"\r", start)
    return fields[start : stop if stop >= 0 else len(fields)].strip(_OWS)


def _every_field(fields: bytes, names: bytes, key: bytes) -> bytes | None:
    """Every value of a header, in order, joined as one list (RFC 9110 §5.3), or None."""
    values = []
    at = names.find(key)
    while at >= 0:
        start = at + len(key)
        stop = fields.find(b"\r", start)
        values.append(fields[start : stop if stop >= 0 else len(fields)].strip(_OWS))
        at = names.find(key, start)
    return b", ".join(values) if values else None


def _text(value: bytes | None) -> str:
    # As aiohttp decodes header values, so both paths record the same agent.
    return "" if value is None else value.decode("utf-8", "surrogateescape")
