"""Stats while events wait in the spool (issue 11): `/api/stats` and `trackway stats`
count them, as export and `/api/events` show them, and say how many of the figures come
from the spool, whose burst verdicts the loader has not found yet."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from config import Settings
from proxy.admin.app import build_admin_app
from proxy.data_folder import admin_token
from proxy.serve.listeners import bind_socket
from proxy.serve.public_app import PublicService
from redirector.recording.event_store import DATABASE_FILE, SqliteEventStore
from redirector.recording.events import Event, new_event_id
from redirector.recording.spool import Spool
from tests.proxy.cli.test_cli import trackway
from tests.support.clicks import (
    BROWSER,
    ListenerClient,
    TokenMaker,
    database_rows,
    stored,
    with_clicks,
)

Client = TestClient[web.Request, web.Application]
SCANNER = "Mozilla/5.0 Proofpoint"
# (path, recipient, link, user agent) of each request, before and while the database is
# read-only. One client makes them all: bursts are kept out of the way (burst_links).
LOADED = [
    ("c", "r1", 0, BROWSER), ("c", "r2", 0, BROWSER), ("c", "r1", 1, BROWSER),
    ("c", "r3", 0, SCANNER), ("o", "r1", 0, BROWSER),
]  # fmt: skip
SPOOLED = [
    ("c", "r1", 0, BROWSER),  # a recipient the database counts already
    ("c", "r4", 0, BROWSER), ("c", "r5", 2, BROWSER),  # a new one; a link only spooled
    ("c", "r7", 0, SCANNER), ("o", "r1", 0, BROWSER), ("o", "r6", 0, BROWSER),
]  # fmt: skip
EXPECTED_LINKS = [
    {"link_index": 0, "human_clicks": 4, "bot_clicks": 2, "unique_recipients": 3},
    {"link_index": 1, "human_clicks": 1, "bot_clicks": 0, "unique_recipients": 1},
    {"link_index": 2, "human_clicks": 1, "bot_clicks": 0, "unique_recipients": 1},
]
EXPECTED_OPENS = {"human_opens": 3, "bot_opens": 0, "unique_openers": 2}


async def request_all(
    public: ListenerClient, make_token: TokenMaker, requests: list[tuple[str, str, int, str]]
) -> None:
    for path, recipient, link, agent in requests:
        token = make_token(
            recipient_id=recipient, link_index=link, url=f"https://e.example/{link}"
        )
        resp = await public.get(
            f"/{path}/{token}", allow_redirects=False, headers={"User-Agent": agent}
        )
        assert resp.status == (302 if path == "c" else 200)


def counts(doc: dict[str, Any]) -> tuple[list[dict[str, int]], dict[str, int]]:
    links = [{k: v for k, v in link.items() if k not in ("url", "label")} for link in doc["links"]]
    return links, {k: doc[k] for k in EXPECTED_OPENS}


@contextlib.asynccontextmanager
async def click_server(settings: Settings, read_only: bool) -> AsyncIterator[ListenerClient]:
    """The click app on a real listener, its loader's database read-only or not."""
    path = settings.data / DATABASE_FILE
    service = PublicService(
        settings, store_factory=lambda: SqliteEventStore(path, read_only=read_only)
    )
    await service.start()
    listener = await service.listen(bind_socket("127.0.0.1", 0))
    client = ListenerClient(f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}")
    try:
        yield client
    finally:
        await client.session.close()
        listener.close()
        await service.close()


async def test_stats_count_spooled_events_and_say_so(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    make_token: TokenMaker,
    settings: Settings,
) -> None:
    settings = with_clicks(settings, burst_links=1000)
    async with click_server(settings, read_only=False) as public:
        await request_all(public, make_token, LOADED)
        assert len(await stored(settings)) == len(LOADED)
    async with click_server(settings, read_only=True) as public:
        await request_all(public, make_token, SPOOLED)
        await asyncio.sleep(0.5)  # the loader tries, and the database refuses
    assert len(database_rows(settings)) == len(LOADED)
    assert Spool(settings.data).count() == len(SPOOLED)

    token = admin_token(settings.data)
    admin = await aiohttp_client(build_admin_app(settings, token))
    auth = {"Authorization": f"Bearer {token}"}
    doc = await (await admin.get("/api/stats?message_id=msg-1", headers=auth)).json()
    assert counts(doc) == (EXPECTED_LINKS, EXPECTED_OPENS)
    assert doc["spooled_events"] == len(SPOOLED)
    assert doc["links"][2]["url"] == "https://e.example/2"  # known from the spool only

    done = trackway("stats", "msg-1", "--json", data=settings.data)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == doc
    text = trackway("stats", "msg-1", data=settings.data).stdout.decode()
    assert "6 of these events are still in the spool" in text
    assert "bursts among them are not found yet" in text

    async with click_server(settings, read_only=False):  # loaded: the same figures
        assert len(await stored(settings)) == len(LOADED) + len(SPOOLED)
    doc = await (await admin.get("/api/stats?message_id=msg-1", headers=auth)).json()
    assert counts(doc) == (EXPECTED_LINKS, EXPECTED_OPENS)
    assert doc["spooled_events"] == 0
    text = trackway("stats", "msg-1", data=settings.data).stdout.decode()
    assert "spool" not in text


def click(recipient: str, link: int = 0) -> Event:
    return Event(
        new_event_id(), time.time(), "click", "k", "m-1", recipient, link, "https://e.example/",
        BROWSER, None, "key", label="spooled" if link == 5 else None,
    )  # fmt: skip


def test_an_event_both_loaded_and_still_spooled_counts_once(tmp_path: Path) -> None:
    """The loader deletes a file after its commit: until then its events are in both."""
    both = click("r1")
    store = SqliteEventStore(tmp_path / DATABASE_FILE)
    store.write_batch([both])
    store.close()
    Spool(tmp_path).append([both, click("r1"), click("r2", link=5)])
    done = trackway("stats", "m-1", "--json", data=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert counts(doc)[0] == [
        {"link_index": 0, "human_clicks": 2, "bot_clicks": 0, "unique_recipients": 1},
        {"link_index": 5, "human_clicks": 1, "bot_clicks": 0, "unique_recipients": 1},
    ]
    assert doc["links"][1]["label"] == "spooled"
    assert doc["spooled_events"] == 2
