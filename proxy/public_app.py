"""The public application: click and open routes with their writer and key ring."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from config import Settings
from proxy.state import client_salt, open_store
from redirector import load_keyring
from redirector.click_routes import (
    CLICK_STATE,
    ClickState,
    add_click_routes,
    add_fallback_route,
)
from redirector.errors import KeyRingError
from redirector.event_store import EventStore
from redirector.event_writer import EventWriter
from redirector.keystore import KEYS_FILE
from redirector.spool import Spool

log = logging.getLogger("trackway.public")
KEY_RELOAD_SECONDS = 2.0


def build_public_app(
    settings: Settings, store_factory: Callable[[], EventStore] | None = None
) -> web.Application:
    """`store_factory` opens the event store (default: SQLite in the data folder)."""
    app = web.Application()
    writer = EventWriter(
        store_factory or (lambda: open_store(settings)),
        Spool(settings.data),
        burst_links=settings.clicks.burst_links,
        burst_seconds=settings.clicks.burst_seconds,
        retry_seconds=settings.store.spool_retry_seconds,
    )
    state = ClickState(
        ring=load_keyring(settings.data, int(time.time())),
        writer=writer,
        settings=settings.clicks,
        salt=client_salt(settings.data),
    )
    app[CLICK_STATE] = state

    async def resources(app: web.Application) -> AsyncIterator[None]:
        writer.start()
        reloader = asyncio.create_task(_reload_keys(state, settings))
        yield
        reloader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reloader
        # Every handler has finished by now; commit what they queued before exiting.
        await writer.close()

    app.cleanup_ctx.append(resources)
    add_click_routes(app)
    add_fallback_route(app)
    return app


async def _reload_keys(state: ClickState, settings: Settings) -> None:
    """Pick up `keys rotate` / `keys retire` without a restart: the file is tiny."""
    path = settings.data / KEYS_FILE
    seen = _mtime(path)
    while True:
        await asyncio.sleep(KEY_RELOAD_SECONDS)
        current = _mtime(path)
        if current == seen:
            continue
        try:
            state.ring = load_keyring(settings.data, int(time.time()))
            seen = current
            log.info("key ring reloaded: %d keys", len(state.ring.keys))
        except KeyRingError as e:
            log.error("key ring not reloaded, keeping the current one: %s", e)


def _mtime(path: object) -> int:
    try:
        return int(path.stat().st_mtime_ns)  # type: ignore[attr-defined]
    except OSError:
        return 0
