"""Helpers of the click tests: a browser's agent, tokens, a client of a real listener."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from yarl import URL

from config import Settings
from redirector.recording.event_store import DATABASE_FILE
from redirector.recording.spool import Spool

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
LONG_AGO = 1_700_000_000  # a send time far enough back not to look like a scanner

TokenMaker = Callable[..., str]


def with_clicks(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, clicks=dataclasses.replace(settings.clicks, **changes))


def with_server(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, server=dataclasses.replace(settings.server, **changes))


class ListenerClient:
    """A client of a real public listener (the click protocol, aiohttp behind it)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(base_url=base)

    def make_url(self, path: str) -> URL:
        return URL(self.base + path)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.session.get(path, **kwargs)

    def head(self, path: str, **kwargs: Any) -> Any:
        return self.session.head(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.session.post(path, **kwargs)


def database_rows(settings: Settings) -> list[dict[str, Any]]:
    """The events table as it is now."""
    path = settings.data / DATABASE_FILE
    if not path.exists():
        return []
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM events ORDER BY id")]
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):  # the loader is creating it right now
            return []
        raise
    finally:
        conn.close()


async def stored(settings: Settings, seconds: float = 10.0) -> list[dict[str, Any]]:
    """The events table once every event durable in the spool so far has been loaded
    into it (clicks are answered once they are in the spool; the loader follows)."""
    deadline = time.monotonic() + seconds
    while True:
        rows = database_rows(settings)
        spooled = {event.id for event in Spool(settings.data).read_all()}
        if spooled <= {row["id"] for row in rows}:
            return rows
        assert time.monotonic() < deadline, f"{len(spooled)} spooled events not loaded in time"
        await asyncio.sleep(0.02)
