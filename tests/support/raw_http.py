"""HTTP/1.1 byte by byte over real sockets: requests as bytes, answers read raw, and the
shapes of connections that hold a server's slots (idle, slow heads, slow bodies)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(port: int) -> Stream:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)


def get(path: str, *fields: str, method: str = "GET", version: str = "1.1") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: t.example.com", *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    status_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
    fields = {}
    for line in lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(fields.get("content-length", "0")))
    return int(status_line.split()[1]), fields, body


async def seconds_until_closed(reader: asyncio.StreamReader, limit: float) -> float:
    """How long until the server closed the connection (EOF or reset); fails after `limit`."""
    start = time.monotonic()
    try:
        while await asyncio.wait_for(reader.read(65536), limit):
            pass
    except ConnectionError:
        pass
    return time.monotonic() - start


# A head the fast path hands to aiohttp unfinished: over 8 KiB of fields, no blank line.
UNFINISHED_BIG_HEAD = (
    b"GET /c/x HTTP/1.1\r\nHost: t.example.com\r\n" + (b"X-Pad: " + b"p" * 100 + b"\r\n") * 90
)


@dataclass(frozen=True)
class Holder:
    """A connection that holds a server's slot: it sends `first` (answered or not), then
    `trickle` a byte at a time, never finishing its request."""

    first: bytes
    answered: bool
    trickle: bytes
    deadline: str  # the deadline that closes it: "idle", "head" or "body"


_SLOW_FIELD = b"X-Slow: "
HOLDERS = {
    "idle, fast path": Holder(b"", False, b"", "idle"),
    "keep-alive, fast path": Holder(get("/healthz"), True, b"", "idle"),
    "slow head, fast path": Holder(get("/c/x")[:-2] + _SLOW_FIELD, False, b"s" * 999, "head"),
    "keep-alive, aiohttp": Holder(get("/healthz?x=1"), True, b"", "idle"),
    "slow head, aiohttp": Holder(UNFINISHED_BIG_HEAD + _SLOW_FIELD, False, b"s" * 999, "head"),
    "slow head after an answer, aiohttp": Holder(
        get("/healthz?x=1") + get("/c/x")[:-2] + _SLOW_FIELD, True, b"s" * 999, "head"
    ),
    "slow body, aiohttp": Holder(
        get("/c/x", "Content-Length: 100000", method="POST") + b"b" * 100, True, b"b" * 999, "body"
    ),
}
