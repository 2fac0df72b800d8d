"""Deadlines and the connection cap of the public listener, on both paths (the fast path
and aiohttp behind it), over real sockets with the deadlines shortened by settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import http_exceptions

from config import Settings
from proxy.serve.listeners import bind_socket
from proxy.serve.public_app import PublicService
from redirector import metrics
from redirector.clicks.fallback import bad_request_reason
from tests.support.clicks import TokenMaker, with_server
from tests.support.raw_http import (
    HOLDERS,
    Holder,
    Stream,
    connect,
    get,
    response,
    seconds_until_closed,
)

DEADLINES = {"idle": 0.8, "head": 0.5, "body": 0.5}
Serve = Callable[..., Awaitable[int]]


@pytest.fixture
async def serve(settings: Settings) -> AsyncIterator[Serve]:
    """`await serve(**server_settings)`: the port of a real public listener."""
    started: list[tuple[PublicService, asyncio.Server]] = []

    async def start(**server: Any) -> int:
        service = PublicService(with_server(settings, **server))
        await service.start()
        listener = await service.listen(bind_socket("127.0.0.1", 0))
        started.append((service, listener))
        return int(listener.sockets[0].getsockname()[1])

    yield start
    for service, listener in started:
        listener.close()
        await service.close()


def short_deadlines() -> dict[str, float]:
    return {f"{name}_seconds": seconds for name, seconds in DEADLINES.items()}


async def hold(port: int, holder: Holder) -> Stream:
    """A connection in `holder`'s shape, its answer (if any) read."""
    reader, writer = await connect(port)
    writer.write(holder.first)
    if holder.answered:
        await response(reader)
    return reader, writer


async def trickle(writer: asyncio.StreamWriter, data: bytes) -> None:
    with contextlib.suppress(ConnectionError):
        for byte in data:
            await asyncio.sleep(0.1)
            writer.write(bytes([byte]))
            await writer.drain()


def closed_by_us(reason: str) -> float:
    value = metrics.instruments().registry.get_sample_value(
        "trackway_connections_closed_total", {"reason": reason}
    )
    return value or 0.0


@pytest.mark.parametrize("shape", list(HOLDERS))
async def test_each_deadline_closes_its_connections_on_both_paths(
    serve: Serve, shape: str
) -> None:
    holder = HOLDERS[shape]
    port = await serve(**short_deadlines())
    before = closed_by_us(holder.deadline)
    start = time.monotonic()  # no later than when its deadline starts counting
    reader, writer = await hold(port, holder)
    sending = asyncio.create_task(trickle(writer, holder.trickle))
    await seconds_until_closed(reader, 10)
    elapsed = time.monotonic() - start
    sending.cancel()
    writer.close()
    # Never before its deadline (a byte now and then does not keep a head alive); soon after.
    deadline = DEADLINES[holder.deadline]
    assert deadline - 0.01 <= elapsed < deadline + 5  # 0.01: clock granularity
    assert closed_by_us(holder.deadline) == before + 1


async def test_a_connection_in_use_outlives_the_idle_deadline(
    serve: Serve, make_token: TokenMaker
) -> None:
    port = await serve(idle_seconds=1.5)
    reader, writer = await connect(port)
    for path in ["/healthz", "/healthz?x=1", f"/c/{make_token()}"] * 2:  # both paths
        await asyncio.sleep(0.5)  # 3 s in all
        writer.write(get(path))
        assert (await response(reader))[0] in (200, 302)
    writer.close()


async def test_at_the_cap_the_connections_nearest_their_deadline_go_first(
    serve: Serve, make_token: TokenMaker
) -> None:
    port = await serve(max_connections=4)  # the default deadlines: 75 s idle, 15 s a head
    before = closed_by_us("cap")
    held = {}
    for shape in ["idle, fast path", "keep-alive, aiohttp", "keep-alive, fast path"]:
        held[shape] = await hold(port, HOLDERS[shape])
        await asyncio.sleep(0.05)
    # The newest, but its head is due first (15 s): the first to go.
    held["slow head"] = await hold(port, HOLDERS["slow head, fast path"])

    clicks = []
    for expected_closed in ["slow head", "idle, fast path"]:
        reader, writer = await connect(port)  # one more than the cap
        writer.write(get(f"/c/{make_token()}"))
        assert (await response(reader))[0] == 302
        clicks.append(writer)
        closed_reader, closed_writer = held.pop(expected_closed)
        assert await seconds_until_closed(closed_reader, 5) < 5
        closed_writer.close()
    assert closed_by_us("cap") == before + 2
    for reader, writer in held.values():  # the others are still served
        writer.write(get("/healthz"))
        assert (await response(reader))[0] == 200
        writer.close()
    for writer in clicks:
        writer.close()


async def not_reading(port: int) -> Stream:
    """A connection whose client reads nothing: its receive buffer is 2 KiB."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock)


@pytest.mark.parametrize("path", ["/nothing?x=1", "/healthz"])  # aiohttp's path, the fast path
async def test_a_pipelining_client_that_does_not_read_is_closed_at_a_deadline(
    serve: Serve, make_token: TokenMaker, path: str
) -> None:
    port = await serve(**short_deadlines())
    before = sum(closed_by_us(reason) for reason in DEADLINES)
    reader, writer = await not_reading(port)
    try:
        writer.write(get(path) * 20_000)  # far more answers than its buffers hold
        start = time.monotonic()
        while sum(closed_by_us(reason) for reason in DEADLINES) == before:
            assert time.monotonic() - start < max(DEADLINES.values()) + 10, "never closed"
            await asyncio.sleep(0.05)
        assert await seconds_until_closed(reader, 5) < 5
    finally:
        writer.transport.abort()  # or the server's shutdown would wait for it
    click_reader, click_writer = await connect(port)  # clicks are still served
    click_writer.write(get(f"/c/{make_token()}"))
    assert (await response(click_reader))[0] == 302
    click_writer.close()


def bad_requests(reason: str) -> float:
    value = metrics.instruments().registry.get_sample_value(
        "trackway_bad_requests_total", {"reason": reason}
    )
    return value or 0.0


MALFORMED = {
    b"HELLO\r\n\r\n": "bad_method",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03": "bad_method",  # TLS, unfinished
    b"GET /c/x HTTP/9.9\r\nHost: x\r\n\r\n": "bad_request_line",
    b"GET /c/x?a HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n": "bad_message",
    b"GET /c/x HTTP/1.1\r\nHost: x\r\nX: " + b"y" * 9000 + b"\r\n\r\n": "too_long",
    b"POST /c/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n": "bad_message",
}


async def test_malformed_requests_are_counted_and_logged_in_a_few_lines(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    port = await serve()
    before = {reason: bad_requests(reason) for reason in MALFORMED.values()}
    rounds = 8
    with caplog.at_level(logging.INFO):
        for _ in range(rounds):
            for raw in MALFORMED:
                reader, writer = await connect(port)
                writer.write(raw)
                assert (await response(reader))[0] == 400
                writer.close()
    for reason in set(MALFORMED.values()):
        expected = rounds * list(MALFORMED.values()).count(reason)
        assert bad_requests(reason) == before[reason] + expected, reason
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    lines = [r.getMessage() for r in caplog.records if r.name == "trackway.public"]
    assert 1 <= len(lines) <= 10
    assert "bad request from 127.0.0.1: bad_method" in lines


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (http_exceptions.BadHttpMethod("\x16\x03"), "bad_method"),
        (http_exceptions.BadStatusLine("GET / HTTP/9"), "bad_request_line"),
        (http_exceptions.LineTooLong("x", 8190), "too_long"),
        (http_exceptions.InvalidHeader(b"A B"), "bad_header"),
        (http_exceptions.InvalidURLError("x"), "bad_url"),
        (http_exceptions.TransferEncodingError("x"), "bad_body"),
        (http_exceptions.ContentLengthError("x"), "bad_body"),
        (http_exceptions.BadHttpMessage("Duplicate Content-Length"), "bad_message"),
        (http_exceptions.HttpProcessingError(), "bad_message"),
    ],
)
def test_bad_request_reasons(error: Exception, reason: str) -> None:
    assert bad_request_reason(error) == reason
