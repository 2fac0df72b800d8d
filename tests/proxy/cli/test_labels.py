"""A link's label (`data-link-label`), from the email to every place events are read."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from config import Settings
from proxy.admin.app import build_admin_app
from proxy.data_folder import admin_token
from tests.proxy.cli.test_cli import trackway
from tests.support.clicks import BROWSER, ListenerClient, stored

EMAIL = (
    b"<p><a href='https://example.com/spring' data-link-label='hero-button'>Shop</a>"
    b"<a href='https://example.com/help'>Help</a></p>"
)
Client = TestClient[web.Request, web.Application]
AGENT = {"User-Agent": BROWSER}
LABELS = ["hero-button", "hero-button", None]  # of the three clicks


def rewritten(data: Path, base_url: str) -> list[str]:
    """The tokens of EMAIL rewritten by the real command, in link order."""
    done = trackway(
        "rewrite", "-", "--base-url", base_url, "--message-id", "m-label", "--recipient", "r-1",
        data=data, stdin=EMAIL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return re.findall(r"/c/([A-Za-z0-9_-]+)", done.stdout.decode())


async def test_a_label_reaches_every_reader(
    public_client: Callable[..., Awaitable[ListenerClient]],
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    settings: Settings,
) -> None:
    public = await public_client(settings)
    labelled, plain = rewritten(settings.data, public.base)
    for token in (labelled, labelled, plain):
        resp = await public.get(f"/c/{token}", allow_redirects=False, headers=AGENT)
        assert resp.status == 302

    rows = await stored(settings)
    assert [row["label"] for row in rows] == LABELS

    admin = await aiohttp_client(build_admin_app(settings, admin_token(settings.data)))
    auth = {"Authorization": f"Bearer {admin_token(settings.data)}"}
    doc = await (await admin.get("/api/events?message_id=m-label", headers=auth)).json()
    assert [e["label"] for e in doc["events"]] == LABELS
    doc = await (await admin.get("/api/stats?message_id=m-label", headers=auth)).json()
    assert [(s["link_index"], s["label"]) for s in doc["links"]] == [(0, "hero-button"), (1, None)]

    exported = trackway("events", "export", data=settings.data)
    assert exported.returncode == 0, exported.stderr
    assert [e["label"] for e in json.loads(exported.stdout)] == LABELS
    exported = trackway("events", "export", "--format", "csv", data=settings.data)
    table = list(csv.DictReader(io.StringIO(exported.stdout.decode())))
    assert [r["label"] for r in table] == ["hero-button", "hero-button", ""]

    stats = trackway("stats", "m-label", "--json", data=settings.data)
    assert stats.returncode == 0, stats.stderr
    links = json.loads(stats.stdout)["links"]
    # Clicked as soon as sent: too fast to count as human, counted all the same.
    assert [(s["link_index"], s["label"], s["human_clicks"] + s["bot_clicks"]) for s in links] == [
        (0, "hero-button", 2),
        (1, None, 1),
    ]
    text = trackway("stats", "m-label", data=settings.data).stdout.decode()
    assert "LABEL" in text
    (first,) = [line for line in text.splitlines() if "example.com/spring" in line]
    assert "hero-button" in first
