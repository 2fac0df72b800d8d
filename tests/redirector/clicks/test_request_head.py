"""Which requests the fast path answers itself, against aiohttp's own parser."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.http_parser import HttpRequestParserPy
from hypothesis import given, settings
from hypothesis import strategies as st

from redirector.clicks.request_head import (
    MAX_HEAD_BYTES,
    NEED_MORE,
    NOT_PLAIN,
    PlainRequest,
    parse_plain,
)

UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"


def head(first: str = "GET /c/abc_-9 HTTP/1.1", *fields: str) -> bytes:
    """A request head, with a Host header unless `fields` has one."""
    if not any(f.lower().startswith("host:") for f in fields):
        fields = ("Host: t.example.com", *fields)
    return ("\r\n".join([first, *fields]) + "\r\n\r\n").encode("latin-1")


def test_a_browser_click() -> None:
    raw = head(
        "GET /c/Ab-_09 HTTP/1.1",
        "Host: links.example.com",
        "Connection: keep-alive",
        f"User-Agent:  {UA} \t",
        "Accept-Language: en",
    )
    assert parse_plain(raw + b"GET /next") == PlainRequest(
        len(raw), False, "/c/Ab-_09", True, UA, "", "links.example.com"
    )


@pytest.mark.parametrize(
    ("first", "fields", "keep_alive"),
    [
        ("GET /o/x HTTP/1.1", ["Connection: close"], False),
        ("GET /o/x HTTP/1.1", ["connection: Upgrade-Insecure, CLOSE"], False),
        ("HEAD /healthz HTTP/1.1", [], True),
        ("GET /c/x HTTP/1.1", ["Connection: Keep-Alive"], True),
    ],
)
def test_keep_alive(first: str, fields: list[str], keep_alive: bool) -> None:
    request = parse_plain(head(first, *fields))
    assert isinstance(request, PlainRequest)
    assert request.keep_alive is keep_alive


def test_forwarded_for() -> None:
    request = parse_plain(
        head("GET /c/x HTTP/1.1", "X-Forwarded-For: 203.0.113.9, 10.0.0.1", "user-agent: a")
    )
    assert isinstance(request, PlainRequest)
    assert (request.forwarded_for, request.user_agent) == ("203.0.113.9, 10.0.0.1", "a")
    # Several headers are one list, in order: a proxy's entry is never lost.
    request = parse_plain(
        head("GET /c/x HTTP/1.1", "x-forwarded-for: 6.6.6.6", "X-Forwarded-For:  10.0.0.1 ")
    )
    assert isinstance(request, PlainRequest)
    assert request.forwarded_for == "6.6.6.6, 10.0.0.1"


def test_undecodable_agent_bytes_are_kept_as_aiohttp_keeps_them() -> None:
    request = parse_plain(b"GET /c/x HTTP/1.1\r\nHost: h\r\nUser-Agent: a\xffb\r\n\r\n")
    assert isinstance(request, PlainRequest)
    assert request.user_agent == "a\udcffb"


@pytest.mark.parametrize(
    "raw",
    [
        head("POST /c/x HTTP/1.1"),
        head("GET /c/x?utm=1 HTTP/1.1"),
        head("GET /c/x%41 HTTP/1.1"),
        head("GET /c/ HTTP/1.1"),
        head("GET /c/x/y HTTP/1.1"),
        head("GET http://host/c/x HTTP/1.1"),
        head("GET /c/x HTTP/2.0"),
        head("GET  /c/x HTTP/1.1"),
        head("GET /other HTTP/1.1"),
        head("GET /c/x HTTP/1.1", "Content-Length: 0"),
        head("GET /c/x HTTP/1.1", "Transfer-Encoding: chunked"),
        head("GET /c/x HTTP/1.1", "Expect: 100-continue"),
        head("GET /c/x HTTP/1.1", "Upgrade: h2c"),
        head("GET /c/x HTTP/1.1", "User-Agent: a", " folded"),
        head("GET /c/x HTTP/1.1", "User-Agent : a"),
        head("GET /c/x HTTP/1.1", "no colon"),
        head("GET /c/x HTTP/1.1", ": empty name"),
        b"GET /c/x HTTP/1.1\r\nUser-Agent: a\r\n\r\n",  # no Host
        head("GET /c/x HTTP/1.1", "Host: a", "host: b"),
        head("GET /c/x HTTP/1.1", "User-Agent: a", "user-agent: b"),
        head("GET /c/x HTTP/1.1", "Connection: keep-alive", "Connection: close"),
        head("GET /c/x HTTP/1.0"),
        head("GET /c/x HTTP/1.1", "User-Agent: a\x01b"),
        head("GET /c/x HTTP/1.1", "X-Forwarded-For: 1.2.3.4\x1b[31m"),
        head("GET /c/x HTTP/1.1", "X-A: \x7f"),
        head("GET /c/x HTTP/1.1", *[f"X-{i}: v" for i in range(101)]),
        b"GET /c/x HTTP/1.1\r\nUser-Agent: a\nb\r\n\r\n",
        b"GET /c/x HTTP/1.1\r\nUser-Agent: a\rb\r\n\r\n",
        b"GET /c/x HTTP/1.1\r\nUser-Agent: a\x00b\r\n\r\n",
        b"GET /c/x HTTP/1.1\n\n",
        b"\r\nGET /c/x HTTP/1.1\r\n\r\n",
        b"x" * (MAX_HEAD_BYTES + 4),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # unfinished, but TLS
        b"POST /c/x HTTP/1.1\r\n",  # unfinished, but no click
        head("GET /c/x HTTP/1.1", "X-Long: " + "y" * MAX_HEAD_BYTES),
    ],
)
def test_anything_else_goes_to_the_full_parser(raw: bytes) -> None:
    assert parse_plain(raw) is NOT_PLAIN


def test_an_unfinished_head_waits() -> None:
    raw = head("GET /c/x HTTP/1.1", "User-Agent: a")
    for cut in range(len(raw)):
        assert parse_plain(raw[:cut]) is NEED_MORE


class _Protocol:
    """What aiohttp's parser needs of a protocol."""

    transport = None

    def set_exception(self, exc: BaseException, cause: Any = None) -> None:
        raise AssertionError(exc)


_NAMES = st.sampled_from(
    ["User-Agent", "user-agent", "X-Forwarded-For", "Connection", "Host", "Accept",
     "Content-Length", "Transfer-Encoding", "Expect", "X-A b", " Lead", "", "Ké"]
)  # fmt: skip
_VALUES = st.lists(
    st.sampled_from(["a", " ", ",", "\t", ":", "\xff", "\x00", "\r", "\n", "é", "close",
                     "keep-alive", "Keep-Alive", "0", "chunked", "203.0.113.9", "\x01",
                     "\x1b", "\x7f", "\x0b"]),
    max_size=6,
).map("".join)  # fmt: skip
_REQUESTS = st.builds(
    lambda method, target, version, fields, end: (
        f"{method} {target} {version}\r\n"
        + "".join(f"{name}:{value}\r\n" for name, value in fields)
        + end
    ).encode("utf-8", "surrogateescape"),
    st.sampled_from(["GET", "GET", "HEAD", "POST", "get"]),
    st.sampled_from(["/c/abc", "/c/abc", "/o/x_-9", "/healthz", "/c/a?b", "/c/%41", "/c/"]),
    st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2"]),
    st.lists(st.tuples(_NAMES, _VALUES), max_size=4).map(lambda f: [("Host", "h"), *f]),
    st.sampled_from(["\r\n", "\r\n", "\r\nGET /c/next HTTP/1.1\r\n\r\n", "\n", ""]),
)


@given(_REQUESTS)
def test_a_plain_request_is_what_aiohttp_reads_too(raw: bytes) -> None:
    request = parse_plain(raw)
    if not isinstance(request, PlainRequest):
        return
    loop = asyncio.new_event_loop()
    try:
        parser = HttpRequestParserPy(_Protocol(), loop, 2**16)  # type: ignore[arg-type]
        messages, _, _ = parser.feed_data(raw[: request.head_bytes])
    finally:
        loop.close()
    ((message, _),) = messages
    assert message.method == ("HEAD" if request.is_head else "GET")
    assert message.path == request.path
    assert message.headers.get("User-Agent", "") == request.user_agent
    assert ", ".join(message.headers.getall("X-Forwarded-For", ())) == request.forwarded_for
    assert message.should_close is not request.keep_alive
    assert not message.chunked
    assert "Content-Length" not in message.headers


def test_the_generated_requests_are_often_plain() -> None:
    found = []

    @settings(max_examples=300)
    @given(_REQUESTS)
    def collect(raw: bytes) -> None:
        found.append(isinstance(parse_plain(raw), PlainRequest))

    collect()
    assert sum(found) >= 3  # the comparison above is not empty
