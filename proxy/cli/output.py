"""What the command line says: its one error, warnings, times as ISO 8601 in UTC, JSON
as bytes."""

from __future__ import annotations

import json
import sys
import time

from config.errors import InvalidInput


class CliError(InvalidInput):
    """A command line that cannot be carried out as given (a flag's value, a file)."""


def warn(message: str) -> None:
    """A line on stderr about a command that still succeeds."""
    print(f"trackway: {message}", file=sys.stderr)


def iso_utc(ts: float, millis: bool = False) -> str:
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    return f"{text}.{int(ts * 1000) % 1000:03d}Z" if millis else f"{text}Z"


# How `json_bytes` shows a byte that was not UTF-8 (for --help texts).
UNDECODABLE_NOTE = (
    "a byte that is not UTF-8 (another charset) shows as the escape \\udcXX, XX being "
    "the byte in hex (0xE9, Latin-1 for e-acute, as \\udce9); Python's json and "
    '.encode("utf-8", "surrogateescape") give the bytes back'
)


def json_bytes(doc: object) -> bytes:
    """`doc` as indented UTF-8 JSON, a line. Text read with surrogateescape holds each
    byte that was not UTF-8 as a lone surrogate, which UTF-8 cannot encode: it is
    written as its JSON escape (`backslashreplace` writes exactly that, and a surrogate
    only ever stands inside a string), so that the bytes are not lost either."""
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return text.encode("utf-8", "backslashreplace")
