"""Helpers of the click tests: a browser's agent, tokens, a client of a real listener."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import aiohttp
from yarl import URL

from config import Settings

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
LONG_AGO = 1_700_000_000  # a send time far enough back not to look like a scanner

TokenMaker = Callable[..., str]


def with_clicks(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, clicks=dataclasses.replace(settings.clicks, **changes))


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
