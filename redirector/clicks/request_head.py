"""The plain requests the click fast path answers itself. Pure: bytes in, a verdict out.

A recipient's click is a `GET /c/<token> HTTP/1.1` with a handful of headers. This
module recognises exactly that shape (and `/a/`, `/o/`, `/healthz`, `HEAD`) and nothing
more (an `/a/` request whose Accept names JSON is an app's, for aiohttp's path to weigh):
a request with a body, a query, percent-escapes, folded or odd header lines, or any
framing header is `NOT_PLAIN`, and the connection goes to aiohttp's full HTTP parser,
which answers it (or its error) as it always has. So the fast path never has to
be right about the corners of HTTP/1.1: it only has to refuse them.

`parse_forwardable` is the same idea for a request to pass on as it came (the proxy's
fast path): any method, an origin-form target, HTTP/1.1, no body or one framed by one
`Content-Length`; no `Transfer-Encoding`, `Expect` or `Upgrade`, and no `Connection`
that names a framing header or Host. Its fields are kept, in order and byte for byte
(as latin-1 text), for the header rules to rewrite.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
    end = _head_end(buffer, _could_be_click)
    if not isinstance(end, int):
        return end
    line = _REQUEST_LINE.match(buffer, 0, end + 2)
    if line is None:
        return NOT_PLAIN
    # The header lines, each after its CRLF: "\r\nName: value\r\nName: value".
    fields = buffer[line.end() - 2 : end]
    names = _checked_names(fields)
    if names is None or _FULL_PARSER_FIELDS.search(names) is not None:
        return NOT_PLAIN
    if names.count(b"\nuser-agent:") > 1:
        return NOT_PLAIN
    if buffer[line.start(2) + 1] == 0x61 and b"json" in (  # "/a/": an app may want JSON
        _every_field(names, names, b"\naccept:") or b""
    ):
        return NOT_PLAIN
    keep_alive = _keep_alive(fields, names)
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


class ForwardableRequest(NamedTuple):
    head_bytes: int  # of the buffer, up to and including the blank line
    method: str
    target: str  # origin-form, as sent: "/path?query"
    fields: list[tuple[str, str]]  # as sent, in order (latin-1 text), values trimmed
    host: str  # the Host header's value, as sent
    keep_alive: bool
    content_length: int  # 0 when the request has no body


# A method in capitals (a token; aiohttp would send another in capitals: its to send),
# an origin-form target of visible ASCII, HTTP/1.1 only.
_FORWARD_LINE = re.compile(rb"([A-Z][!#$%&'*+.^_`|~0-9A-Z-]{0,31}) (/[!-~]*) HTTP/1\.1\r\n")
# What the proxy's fast path leaves to aiohttp: other framings, and what turns the
# connection into something else or waits for a go-ahead.
_NOT_FORWARDABLE_FIELDS = re.compile(rb"\n(?:transfer-encoding|expect|upgrade):")
# What a `Connection` header may not name: the header rules drop what it names, and
# the request would go upstream unframed (its body read there as a request of its own)
# or with another Host.
_NOT_HOP_BY_HOP = frozenset({b"content-length", b"transfer-encoding", b"host"})
_METHOD_START = frozenset(range(ord("A"), ord("Z") + 1))
# The headers aiohttp refuses twice (a 400 of its own): such a request is its to answer.
_SINGLETONS = tuple(
    b"\n%s:" % name
    for name in (
        b"content-location", b"content-range", b"content-type", b"etag", b"max-forwards",
        b"server", b"user-agent",
    )
)  # fmt: skip


def parse_forwardable(buffer: bytes) -> ForwardableRequest | _Verdict:
    end = _head_end(buffer, lambda start: start[:1] == b"" or start[0] in _METHOD_START)
    if not isinstance(end, int):
        return end
    line = _FORWARD_LINE.match(buffer, 0, end + 2)
    if line is None:
        return NOT_PLAIN
    fields = buffer[line.end() - 2 : end]
    names = _checked_names(fields)
    if names is None or _NOT_FORWARDABLE_FIELDS.search(names) is not None:
        return NOT_PLAIN
    if any(names.count(name) > 1 for name in _SINGLETONS):
        return NOT_PLAIN
    if not _NOT_HOP_BY_HOP.isdisjoint(_connection_options(fields, names)):
        return NOT_PLAIN
    length = 0
    lengths = names.count(b"\ncontent-length:")
    if lengths:
        value = _field(fields, names, b"\ncontent-length:")
        if lengths > 1 or value is None or not value.isdigit() or len(value) > 15:
            return NOT_PLAIN  # aiohttp's to answer (or refuse)
        length = int(value)
    pairs = []
    for field in fields.decode("latin-1").split("\r\n")[1:]:
        name, _, text = field.partition(":")
        pairs.append((name, text.strip(" \t")))
    return ForwardableRequest(
        end + 4,
        line.group(1).decode("ascii"),
        line.group(2).decode("ascii"),
        pairs,
        _text(_field(fields, names, b"\nhost:")),
        _keep_alive(fields, names),
        length,
    )


def _could_be_click(start: bytes) -> bool:
    return b"GET /".startswith(start[:5]) or b"HEAD /".startswith(start[:6])


def _head_end(buffer: bytes, may_start: Callable[[bytes], bool]) -> int | _Verdict:
    """Where the head's blank line begins, or the verdict while there is none."""
    end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD_BYTES + 4)
    if end >= 0:
        return end
    if (
        len(buffer) >= MAX_HEAD_BYTES + 4
        or buffer.count(b"\n") != buffer.count(b"\r\n")
        or not may_start(buffer)
    ):
        # Too long, lines that end in a bare LF, or not a request of that kind (a TLS
        # handshake, say): never plain, and aiohttp answers it now.
        return NOT_PLAIN
    return NEED_MORE


def _checked_names(fields: bytes) -> bytes | None:
    """The field lines in lowercase (offsets found in them hold in `fields`), or None
    when any line is odd. As aiohttp: HTTP/1.1 needs one Host (RFC 9112 §3.2), and Host
    twice is a bad request (theirs to answer); Connection twice is theirs to combine."""
    crlfs = fields.count(b"\r\n")
    if (
        crlfs > MAX_FIELDS
        or fields.count(b"\r") != crlfs
        or fields.count(b"\n") != crlfs
        or _CONTROL.search(fields) is not None
        or _ODD_FIELD_LINE.search(fields) is not None
    ):
        return None
    names = fields.lower()
    if names.count(b"\nhost:") != 1 or names.count(b"\nconnection:") > 1:
        return None
    return names


def _connection_options(fields: bytes, names: bytes) -> set[bytes]:
    """The `Connection` header's options, in lowercase (one header at most, as checked)."""
    connection = _field(fields, names, b"\nconnection:")
    if connection is None:
        return set()
    return {o.strip(_OWS).lower() for o in connection.split(b",")}


def _keep_alive(fields: bytes, names: bytes) -> bool:
    return b"close" not in _connection_options(fields, names)
