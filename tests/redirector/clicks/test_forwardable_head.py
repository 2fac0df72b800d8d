"""Which requests the proxy's fast path forwards itself, against aiohttp's own parser."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.http_parser import HttpRequestParserPy
from hypothesis import given, settings
from hypothesis import strategies as st

from redirector.clicks.request_head import (
    NEED_MORE,
    NOT_PLAIN,
    ForwardableRequest,
    parse_forwardable,
)
from tests.redirector.clicks.test_request_head import _NAMES, _VALUES, _Protocol, head


def test_a_form_post_with_its_fields_in_order() -> None:
    raw = head(
        "POST /ls/click?upn=a%20b&x=1 HTTP/1.1",
        "Content-Type: application/x-www-form-urlencoded",
        "Cookie:  a=1; b=2 ",
        "content-length: 12",
        "Connection: close",
    )
    request = parse_forwardable(raw + b"email=a%40b&")
    assert request == ForwardableRequest(
        len(raw),
        "POST",
        "/ls/click?upn=a%20b&x=1",
        [
            ("Host", "t.example.com"),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", "a=1; b=2"),
            ("content-length", "12"),
            ("Connection", "close"),
        ],
        "t.example.com",
        False,
        12,
    )


@pytest.mark.parametrize(
    "raw",
    [
        head("GET http://elsewhere/x HTTP/1.1"),  # absolute-form: aiohttp's to route
        head("OPTIONS * HTTP/1.1"),
        head("CONNECT elsewhere:443 HTTP/1.1"),
        head("GET /x HTTP/1.0"),
        head("GET /x HTTP/1.1", "Transfer-Encoding: chunked"),
        head("POST /x HTTP/1.1", "Content-Length: 1", "Content-Length: 1"),
        head("POST /x HTTP/1.1", "Content-Length: -1"),
        head("POST /x HTTP/1.1", "Content-Length: 1 2"),
        head("POST /x HTTP/1.1", "Expect: 100-continue"),
        head("GET /x HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade"),
        head("GET /x HTTP/1.1", "X-A: a", " folded"),
        head("GET /x HTTP/1.1", "Host: a", "Host: b"),
        # Headers aiohttp refuses twice: its 400 to give (found by hypothesis below).
        head("GET / HTTP/1.1", "User-Agent:", "User-Agent:"),
        head("POST /x HTTP/1.1", "Content-Type: a", "content-type: b", "Content-Length: 0"),
        head("GET /x HTTP/1.1", "ETag: a", "ETag: a"),
        # A framing header (or Host) named hop-by-hop: the header rules would drop it,
        # and the body would go upstream unframed (a request smuggled in it).
        head("POST /x HTTP/1.1", "Connection: content-length", "Content-Length: 1"),
        head("POST /x HTTP/1.1", "Content-Length: 1", "Connection: keep-alive,Content-Length"),
        head("GET /x HTTP/1.1", "Connection: transfer-encoding"),
        head("GET /x HTTP/1.1", "Connection: X-A, HOST"),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # unfinished, but TLS
    ],
)
def test_anything_else_goes_to_the_full_parser(raw: bytes) -> None:
    assert parse_forwardable(raw) is NOT_PLAIN


def test_a_connection_header_naming_other_headers_is_forwardable() -> None:
    raw = head("GET /x HTTP/1.1", "Connection: keep-alive, X-Secret", "X-Secret: hop")
    request = parse_forwardable(raw)
    assert isinstance(request, ForwardableRequest)
    assert request.keep_alive


def test_an_unfinished_head_waits() -> None:
    raw = head("DELETE /x HTTP/1.1", "User-Agent: a")
    for cut in range(len(raw)):
        assert parse_forwardable(raw[:cut]) is NEED_MORE


_REQUESTS = st.builds(
    lambda method, target, fields, end: (
        f"{method} {target} HTTP/1.1\r\n"
        + "".join(f"{name}:{value}\r\n" for name, value in fields)
        + end
    ).encode("utf-8", "surrogateescape"),
    st.sampled_from(["GET", "POST", "HEAD", "PUT", "get", "M-SEARCH"]),
    st.sampled_from(["/", "/ls/click?upn=a", "/a%20b", "/a;b,c", "//x", "/é", "/a b"]),
    st.lists(st.tuples(_NAMES, _VALUES), max_size=4).map(lambda f: [("Host", "h"), *f]),
    st.sampled_from(["\r\n", "\r\n", "\r\nGET /next HTTP/1.1\r\n\r\n", "\n"]),
)


@given(_REQUESTS)
def test_a_forwardable_request_is_what_aiohttp_reads_too(raw: bytes) -> None:
    request = parse_forwardable(raw)
    if not isinstance(request, ForwardableRequest):
        return
    loop = asyncio.new_event_loop()
    try:
        parser = HttpRequestParserPy(_Protocol(), loop, 2**16)  # type: ignore[arg-type]
        messages, _, _ = parser.feed_data(raw[: request.head_bytes])
    finally:
        loop.close()
    ((message, _),) = messages
    assert message.method == request.method
    assert message.path == request.target
    fields = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in message.raw_headers]
    assert fields == request.fields
    assert message.should_close is not request.keep_alive
    assert not message.chunked
    assert int(message.headers.get("Content-Length", "0")) == request.content_length


def test_the_generated_requests_are_often_forwardable() -> None:
    found = []

    @settings(max_examples=300)
    @given(_REQUESTS)
    def collect(raw: bytes) -> None:
        found.append(isinstance(parse_forwardable(raw), ForwardableRequest))

    collect()
    assert sum(found) >= 3  # the comparison above is not empty
