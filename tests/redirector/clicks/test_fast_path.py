"""The public listener's own HTTP/1.1 path, byte by byte over real sockets."""

from __future__ import annotations

import asyncio
import email.utils
import ssl
from collections.abc import AsyncIterator

import pytest
import trustme

from config import Settings
from proxy.serve.listeners import bind_socket
from proxy.serve.public_app import PublicService
from redirector.recording.event_reader import read_events
from redirector.recording.event_store import DATABASE_FILE, EventFilter, SqliteEventStore
from redirector.recording.spool import Spool
from tests.support.clicks import TokenMaker, with_server
from tests.support.raw_http import connect, get, response


@pytest.fixture
async def port(settings: Settings) -> AsyncIterator[int]:
    service = PublicService(with_server(settings, idle_seconds=0.5, head_seconds=0.3))
    await service.start()
    listener = await service.listen(bind_socket("127.0.0.1", 0))
    yield int(listener.sockets[0].getsockname()[1])
    listener.close()
    await service.close()


def recipients(settings: Settings) -> list[str]:
    store = SqliteEventStore(settings.data / DATABASE_FILE)
    try:
        events = read_events(store, Spool(settings.data), EventFilter())
    finally:
        store.close()
    return [e.recipient_id for e in events]


async def test_a_click_is_answered_with_every_header(
    port: int, make_token: TokenMaker, settings: Settings
) -> None:
    reader, writer = await connect(port)
    writer.write(get(f"/c/{make_token('https://example.com/x?a=1')}", "User-Agent: ua"))
    status, fields, body = await response(reader)
    assert (status, body) == (302, b"")
    assert fields["location"] == "https://example.com/x?a=1"
    assert fields["cache-control"] == "no-store, private"
    assert fields["referrer-policy"] == "no-referrer"
    assert email.utils.parsedate_to_datetime(fields["date"]) is not None
    assert recipients(settings) == ["rcpt-1"]
    writer.close()


async def test_pipelined_requests_are_answered_in_order(
    port: int, make_token: TokenMaker, settings: Settings
) -> None:
    reader, writer = await connect(port)
    writer.write(
        get(f"/c/{make_token('https://example.com/1', recipient_id='a')}")
        + get("/c/forged")
        + get(f"/o/{make_token('', recipient_id='b')}")
        + get("/healthz")
        + get(f"/c/{make_token('https://example.com/2', recipient_id='c')}", method="HEAD")
    )
    answers = [await response(reader) for _ in range(5)]
    assert [a[0] for a in answers] == [302, 404, 200, 200, 302]
    assert answers[0][1]["location"] == "https://example.com/1"
    assert b"not valid" in answers[1][2]
    assert answers[2][1]["content-type"] == "image/gif"
    assert len(answers[2][2]) == 43
    assert answers[3][2] == b"ok\n"
    assert answers[4][1]["location"] == "https://example.com/2"
    assert sorted(recipients(settings)) == ["a", "b", "c"]
    writer.close()


async def test_a_head_that_comes_byte_by_byte(port: int, make_token: TokenMaker) -> None:
    reader, writer = await connect(port)
    for byte in get(f"/c/{make_token()}"):
        writer.write(bytes([byte]))
        await writer.drain()
    assert (await response(reader))[0] == 302
    writer.close()


async def test_other_requests_go_to_aiohttp_on_the_same_connection(
    port: int, make_token: TokenMaker, settings: Settings
) -> None:
    reader, writer = await connect(port)
    writer.write(get(f"/c/{make_token(recipient_id='plain')}"))
    assert (await response(reader))[0] == 302
    writer.write(get(f"/c/{make_token(recipient_id='query')}?utm=x"))  # not plain
    assert (await response(reader))[0] == 302
    writer.write(get(f"/c/{make_token()}", method="POST"))
    status, fields, _ = await response(reader)
    assert (status, fields["allow"]) == (405, "GET, HEAD")
    writer.write(get(f"/c/{make_token(recipient_id='after')}"))
    assert (await response(reader))[0] == 302
    assert sorted(recipients(settings)) == ["after", "plain", "query"]
    writer.close()


async def test_an_oversized_head_gets_aiohttp_s_error(port: int) -> None:
    reader, writer = await connect(port)
    writer.write(get("/c/x", "X-Big: " + "y" * 20000))
    status, _, _ = await response(reader)
    assert 400 <= status < 500
    writer.close()


@pytest.mark.parametrize(("version", "fields"), [("1.0", ()), ("1.1", ("Connection: close",))])
async def test_connections_that_asked_to_close_are_closed(
    port: int, make_token: TokenMaker, version: str, fields: tuple[str, ...]
) -> None:
    reader, writer = await connect(port)
    writer.write(get(f"/c/{make_token()}", *fields, version=version))
    status, _, _ = await response(reader)
    assert status == 302
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_a_client_that_half_closes_still_gets_its_answer(
    port: int, make_token: TokenMaker, settings: Settings
) -> None:
    reader, writer = await connect(port)
    writer.write(get(f"/c/{make_token(recipient_id='half')}"))
    writer.write_eof()
    assert (await response(reader))[0] == 302
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert recipients(settings) == ["half"]
    writer.close()


async def test_idle_and_stalled_connections_are_closed(port: int) -> None:
    idle_reader, idle = await connect(port)
    stalled_reader, stalled = await connect(port)
    stalled.write(b"GET /c/abc HTTP/1.1\r\nHost: x\r\n")  # and never the rest
    assert await asyncio.wait_for(stalled_reader.read(), 5) == b""
    assert await asyncio.wait_for(idle_reader.read(), 5) == b""
    idle.close()
    stalled.close()


async def test_over_tls_too_with_the_hand_over(settings: Settings, make_token: TokenMaker) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("links.example.com").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    service = PublicService(settings)
    await service.start()
    listener = await service.listen(bind_socket("127.0.0.1", 0), server_context)
    try:
        port = listener.sockets[0].getsockname()[1]
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                "127.0.0.1", port, ssl=client_context, server_hostname="links.example.com"
            ),
            5,
        )
        writer.write(get(f"/c/{make_token()}"))
        assert (await response(reader))[0] == 302
        writer.write(get(f"/c/{make_token()}", method="POST"))  # aiohttp's from here on
        assert (await response(reader))[0] == 405
        writer.write(get(f"/c/{make_token()}"))
        assert (await response(reader))[0] == 302
        writer.close()
    finally:
        listener.close()
        await service.close()


async def test_a_destination_with_a_byte_that_was_not_utf8(
    port: int, make_token: TokenMaker, settings: Settings
) -> None:
    # `trackway rewrite` reads a latin-1 email with surrogateescape: é arrives as \udce9.
    token = make_token("https://example.com/caf\udce9")
    reader, writer = await connect(port)
    writer.write(get(f"/c/{token}"))
    status, fields, _ = await response(reader)
    assert (status, fields["location"]) == (302, "https://example.com/caf%E9")
    writer.close()
