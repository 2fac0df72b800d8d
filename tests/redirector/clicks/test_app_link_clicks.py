"""`/a/<token>` on a real public listener: a browser gets what `/c/` gives on both click
paths (the fast path, aiohttp's); an app asking for JSON gets the destination, and its
click is recorded once, with source `app`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from config import Settings
from proxy.serve.listeners import bind_socket
from proxy.serve.public_app import PublicService
from redirector.clicks.app_resolve import wants_json
from redirector.clicks.request_head import NOT_PLAIN, PlainRequest, parse_plain
from redirector.recording.event_reader import read_events
from redirector.recording.event_store import DATABASE_FILE, EventFilter, SqliteEventStore
from redirector.recording.events import Event
from redirector.recording.spool import Spool
from tests.support.clicks import BROWSER, TokenMaker, stored
from tests.support.raw_http import connect, get, response

DESTINATION = "https://shop.example.com/item/42?utm_source=email"
CHROME_ACCEPT = (
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
)


@pytest.fixture
async def port(settings: Settings) -> AsyncIterator[int]:
    service = PublicService(settings)
    await service.start()
    listener = await service.listen(bind_socket("127.0.0.1", 0))
    yield int(listener.sockets[0].getsockname()[1])
    listener.close()
    await service.close()


def events(settings: Settings) -> list[Event]:
    store = SqliteEventStore(settings.data / DATABASE_FILE)
    try:
        return read_events(store, Spool(settings.data), EventFilter())
    finally:
        store.close()


async def ask(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await connect(port)
    try:
        writer.write(request)
        return await response(reader)
    finally:
        writer.close()


# HTTP/1.1 plain: the fast path; HTTP/1.0, or a field it leaves to aiohttp: aiohttp's.
PATHS = {
    "fast": lambda path, *fields: get(path, *fields),
    "aiohttp": lambda path, *fields: get(path, *fields, version="1.0"),
    "aiohttp-field": lambda path, *fields: get(path, *fields, "Content-Length: 0"),
}


@pytest.mark.parametrize("way", PATHS)
async def test_in_a_browser_a_is_c(
    port: int, make_token: TokenMaker, settings: Settings, way: str
) -> None:
    token = make_token(DESTINATION)
    fields = (f"User-Agent: {BROWSER}", CHROME_ACCEPT)
    answers = [await ask(port, PATHS[way](f"/{kind}/{token}", *fields)) for kind in "ca"]
    (c_status, c_fields, c_body), (a_status, a_fields, a_body) = answers
    assert (a_status, a_body) == (c_status, c_body) == (302, b"")
    assert a_fields["location"] == DESTINATION
    same = ("location", "cache-control", "referrer-policy", "content-length")
    assert {k: a_fields.get(k) for k in same} == {k: c_fields.get(k) for k in same}
    recorded = events(settings)
    assert [(e.kind, e.source, e.url) for e in recorded] == [("click", "browser", DESTINATION)] * 2


@pytest.mark.parametrize("way", PATHS)
async def test_an_app_asking_for_json_gets_the_url_and_one_app_click(
    port: int, make_token: TokenMaker, settings: Settings, way: str
) -> None:
    token = make_token(DESTINATION)
    status, fields, body = await ask(
        port,
        PATHS[way](f"/a/{token}", "User-Agent: ShopApp/3.1 CFNetwork", "Accept: application/json"),
    )
    assert status == 200
    assert fields["content-type"] == "application/json"
    assert "location" not in fields
    assert fields["cache-control"] == "no-store, private"
    assert json.loads(body) == {"url": DESTINATION}
    (event,) = events(settings)
    assert (event.kind, event.source, event.url, event.user_agent) == (
        "click", "app", DESTINATION, "ShopApp/3.1 CFNetwork",
    )  # fmt: skip
    (row,) = await stored(settings)  # in the database as well, with its source
    assert (row["source"], row["kind"]) == ("app", "click")


async def test_an_app_with_redirects_off_gets_the_302(
    port: int, make_token: TokenMaker, settings: Settings
) -> None:
    status, fields, _ = await ask(port, get(f"/a/{make_token(DESTINATION)}", "User-Agent: App"))
    assert (status, fields["location"]) == (302, DESTINATION)
    assert [(e.source, e.kind) for e in events(settings)] == [("browser", "click")]


async def test_json_only_on_a_and_only_for_a_good_token(
    port: int, make_token: TokenMaker, settings: Settings
) -> None:
    json_accept = "Accept: application/json"
    status, fields, _ = await ask(port, get(f"/c/{make_token(DESTINATION)}", json_accept))
    assert (status, fields["location"]) == (302, DESTINATION)  # /c/: never JSON
    status, _, _ = await ask(port, get("/a/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", json_accept))
    assert status == 404
    open_token = make_token("")  # an open pixel's token names no destination
    status, _, _ = await ask(port, get(f"/a/{open_token}", json_accept))
    assert status == 404
    assert [e.source for e in events(settings)] == ["browser"]


async def test_head_asks_without_a_click(
    port: int, make_token: TokenMaker, settings: Settings
) -> None:
    reader, writer = await connect(port)
    writer.write(
        get(f"/a/{make_token(DESTINATION)}", "Accept: application/json", method="HEAD")
        + get("/healthz", "Connection: close")
    )
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Type: application/json" in head
    assert rest.startswith(b"HTTP/1.1 200 OK")  # no body after a HEAD's head
    assert [(e.kind, e.source) for e in events(settings)] == [("prefetch", "app")]


def test_the_fast_path_takes_a_but_leaves_an_apps_json_to_aiohttp() -> None:
    plain = parse_plain(get("/a/AQtoken", "Accept: text/html"))
    assert isinstance(plain, PlainRequest)
    assert plain.path == "/a/AQtoken"
    assert parse_plain(get("/a/AQtoken", "Accept: application/json")) is NOT_PLAIN
    assert parse_plain(get("/a/AQtoken", "ACCEPT: Application/JSON")) is NOT_PLAIN
    assert isinstance(parse_plain(get("/c/AQtoken", "Accept: application/json")), PlainRequest)


@pytest.mark.parametrize(
    ("accept", "wanted"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/json, text/plain, */*", True),
        ("text/html;q=0.5, application/json", True),
        ("application/json;q=0.9, text/html;q=0.9", True),
        ("text/html, application/json;q=0.9", False),
        ("application/json;q=0", False),
        ("application/json;q=nan", False),
        ("application/json;q=2", False),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
        ("*/*", False),
        ("", False),
        ("application/jsonx", False),
    ],
)
def test_who_wants_json(accept: str, wanted: bool) -> None:
    assert wants_json(accept) is wanted


async def test_pipelined_a_requests_each_answered_as_asked(
    port: int, make_token: TokenMaker, settings: Settings
) -> None:
    token = make_token(DESTINATION)
    reader, writer = await connect(port)
    writer.write(
        get(f"/a/{token}") + get(f"/a/{token}", "Accept: application/json") + get(f"/a/{token}")
    )
    answers = [await response(reader) for _ in range(3)]
    writer.close()
    assert [a[0] for a in answers] == [302, 200, 302]
    assert sorted(e.source for e in events(settings)) == ["app", "browser", "browser"]
