"""The admin API through real HTTP: auth, events, stats, metrics."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from config import Settings
from proxy.admin.app import build_admin_app
from proxy.data_folder import admin_token
from tests.support.clicks import BROWSER, ListenerClient, TokenMaker, stored

Client = TestClient[web.Request, web.Application]
ClientMaker = Callable[[web.Application], Awaitable[Client]]
PublicClient = Callable[..., Awaitable[ListenerClient]]


@pytest.fixture
async def clients(
    aiohttp_client: ClientMaker, public_client: PublicClient, settings: Settings
) -> tuple[ListenerClient, Client, str]:
    public = await public_client(settings)
    token = admin_token(settings.data)
    admin = await aiohttp_client(build_admin_app(settings, token))
    return public, admin, token


async def test_api_needs_the_bearer_token(clients: tuple[ListenerClient, Client, str]) -> None:
    _, admin, token = clients
    for headers in [{}, {"Authorization": "Bearer nope"}, {"Authorization": token}]:
        resp = await admin.get("/api/events", headers=headers)
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = await admin.get("/api/events", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    assert (await admin.get("/healthz")).status == 200


async def test_events_filters_and_paging(
    clients: tuple[ListenerClient, Client, str], make_token: TokenMaker
) -> None:
    public, admin, token = clients
    auth = {"Authorization": f"Bearer {token}"}
    for i in range(5):
        await public.get(
            f"/c/{make_token(recipient_id=f'r{i}', link_index=0)}",
            allow_redirects=False,
            headers={"User-Agent": BROWSER},
        )
    await public.get(
        f"/o/{make_token(url='', message_id='other')}", headers={"User-Agent": BROWSER}
    )

    doc = await (await admin.get("/api/events", headers=auth)).json()
    assert len(doc["events"]) == 6
    assert doc["events"][0].keys() == {  # the client key stays inside
        "id", "time", "kind", "key_id", "message_id", "recipient_id", "link_index", "url",
        "user_agent", "client_ip", "bot", "reasons", "label", "source",
    }  # fmt: skip

    doc = await (
        await admin.get("/api/events?message_id=msg-1&recipient_id=r3", headers=auth)
    ).json()
    assert [e["recipient_id"] for e in doc["events"]] == ["r3"]
    doc = await (await admin.get("/api/events?kind=open", headers=auth)).json()
    assert [e["message_id"] for e in doc["events"]] == ["other"]
    doc = await (await admin.get("/api/events?since=2h", headers=auth)).json()
    assert len(doc["events"]) == 6
    doc = await (await admin.get("/api/events?since=2999-01-01", headers=auth)).json()
    assert doc["events"] == []

    seen: list[str] = []
    cursor = ""
    while True:
        page = await (await admin.get(f"/api/events?limit=2&cursor={cursor}", headers=auth)).json()
        seen += [e["id"] for e in page["events"]]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 6

    for bad in ["kind=nope", "limit=0", "limit=x", "since=yesterday-ish"]:
        resp = await admin.get(f"/api/events?{bad}", headers=auth)
        assert resp.status == 400
        assert "error" in await resp.json()


async def test_stats_count_humans_and_bots(
    clients: tuple[ListenerClient, Client, str], make_token: TokenMaker, settings: Settings
) -> None:
    public, admin, token = clients
    auth = {"Authorization": f"Bearer {token}"}
    for recipient in ["a", "a", "b"]:
        await public.get(
            f"/c/{make_token(recipient_id=recipient)}",
            allow_redirects=False,
            headers={"User-Agent": BROWSER},
        )
    await public.get(
        f"/c/{make_token(recipient_id='c')}",
        allow_redirects=False,
        headers={"User-Agent": "Mozilla/5.0 Proofpoint"},
    )
    await public.get(
        f"/c/{make_token(link_index=1)}", allow_redirects=False, headers={"User-Agent": BROWSER}
    )
    await stored(settings)  # stats read the database, which the loader fills behind clicks
    doc = await (await admin.get("/api/stats?message_id=msg-1", headers=auth)).json()
    links = {link["link_index"]: link for link in doc["links"]}
    assert links[0]["human_clicks"] == 3
    assert links[0]["bot_clicks"] == 1
    assert links[0]["unique_recipients"] == 2
    assert links[1]["human_clicks"] == 1
    assert (await admin.get("/api/stats", headers=auth)).status == 400


async def test_metrics(
    clients: tuple[ListenerClient, Client, str], make_token: TokenMaker
) -> None:
    public, admin, _ = clients
    await public.get(f"/c/{make_token()}", allow_redirects=False)
    await public.get("/c/garbage", allow_redirects=False)
    text = await (await admin.get("/metrics")).text()
    assert 'trackway_requests_total{route="click",status="302"}' in text
    assert 'trackway_requests_total{route="click",status="404"}' in text
    assert "trackway_events_written_total" in text
    assert "trackway_spool_events" in text
    # Clicks are in the spool (durable) before they are answered: its bytes are counted.
    assert re.search(r"^trackway_spool_bytes [1-9][0-9]*\.0$", text, re.M)
    assert "trackway_write_batch_seconds_bucket" in text
