"""An upstream's answer as the proxy's fast path reads it: heads, framings, chunks."""

from __future__ import annotations

import pytest

from proxy.upstream.response_head import (
    CHUNKED,
    LENGTH,
    NO_BODY,
    UNTIL_CLOSE,
    ChunkedBody,
    Malformed,
    ResponseHead,
    parse_response,
)


def answer(first: str, *fields: str) -> bytes:
    return ("\r\n".join([first, *fields]) + "\r\n\r\n").encode("latin-1")


def test_a_redirect_with_its_fields_in_order() -> None:
    raw = answer(
        "HTTP/1.1 302 Moved Temporarily",
        "Location: https://dest.example/a?b=1",
        "Set-Cookie: a=1",
        "set-cookie:  b=2 ",
        "Content-Length: 5",
    )
    assert parse_response(raw + b"hello", to_head=False) == ResponseHead(
        len(raw),
        302,
        "Moved Temporarily",
        [
            ("Location", "https://dest.example/a?b=1"),
            ("Set-Cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("Content-Length", "5"),
        ],
        LENGTH,
        5,
        True,
    )


@pytest.mark.parametrize(
    ("raw", "to_head", "framing", "reusable"),
    [
        (answer("HTTP/1.1 200 OK", "Content-Length: 5"), True, NO_BODY, True),
        (answer("HTTP/1.1 204 No Content"), False, NO_BODY, True),
        (answer("HTTP/1.1 304 Not Modified", "Content-Length: 9"), False, NO_BODY, True),
        (answer("HTTP/1.1 103 Early Hints", "Link: </a>"), False, NO_BODY, True),
        (answer("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked"), False, CHUNKED, True),
        (answer("HTTP/1.1 200 OK"), False, UNTIL_CLOSE, False),
        (
            answer("HTTP/1.1 200 OK", "Content-Length: 0", "Connection: close"),
            False,
            LENGTH,
            False,
        ),
        (
            answer("HTTP/1.0 200 OK", "Content-Length: 0", "Connection: keep-alive"),
            False,
            LENGTH,
            False,
        ),
        (answer("HTTP/1.1 200", "Content-Length: 1", "Content-Length: 1"), False, LENGTH, True),
    ],
)
def test_framing(raw: bytes, to_head: bool, framing: int, reusable: bool) -> None:
    head = parse_response(raw, to_head=to_head)
    assert head is not None
    assert (head.framing, head.reusable) == (framing, reusable)


@pytest.mark.parametrize(
    "raw",
    [
        answer("HTTP/2 200 OK"),
        answer("HTTP/1.1 20 OK"),
        answer("ICY 200 OK"),
        answer("HTTP/1.1 200 OK", "Content-Length: 1", "Content-Length: 2"),
        answer("HTTP/1.1 200 OK", "Content-Length: -1"),
        answer("HTTP/1.1 200 OK", "Content-Length: 1", "Transfer-Encoding: chunked"),
        answer("HTTP/1.1 200 OK", "Transfer-Encoding: chunked, gzip"),
        answer("HTTP/1.1 200 OK", "X-A: a", " folded"),
        answer("HTTP/1.1 200 OK", "X-A : a"),
        answer("HTTP/1.1 200 OK", "no colon"),
        b"HTTP/1.1 200 OK\r\nX-A: a\nX-B: b\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"p" * 70_000,
    ],
)
def test_a_malformed_answer(raw: bytes) -> None:
    with pytest.raises(Malformed):
        parse_response(raw, to_head=False)


def test_an_unfinished_head_waits() -> None:
    raw = answer("HTTP/1.1 200 OK", "Content-Length: 0")
    for cut in range(len(raw)):
        assert parse_response(raw[:cut], to_head=False) is None


BODY = b"5;name=value\r\nhello\r\n1\r\n,\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"


@pytest.mark.parametrize("step", [1, 2, 3, 7, len(BODY)])
def test_a_chunked_body_in_any_pieces(step: int) -> None:
    body = ChunkedBody()
    data = b""
    for at in range(0, len(BODY), step):
        assert not body.done
        data += b"".join(body.feed(BODY[at : at + step]))
    assert (data, body.done, body.extra) == (b"hello, world", True, 0)


def test_bytes_past_the_last_chunk_are_counted() -> None:
    body = ChunkedBody()
    assert body.feed(b"2\r\nok\r\n0\r\n\r\nHTTP/1.1") == [b"ok"]
    assert (body.done, body.extra) == (True, 8)


@pytest.mark.parametrize(
    "raw", [b"x\r\n", b"2\r\nokay\r\n", b"-1\r\n", b"1" * 16 + b"\r\n", b"2" * 5000]
)
def test_a_malformed_chunk(raw: bytes) -> None:
    with pytest.raises(Malformed):
        ChunkedBody().feed(raw)
