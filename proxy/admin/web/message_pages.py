"""The message view's handler. Its reads run off the loop, through the admin app's
executor (`Readers`), as `/api/stats` does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from proxy.admin.web.guard import session_of
from proxy.admin.web.markup import page
from proxy.admin.web.message_views import (
    MessageEvents,
    count_events,
    message_form,
    message_page,
)
from redirector.recording.event_reader import MessageStats
from redirector.recording.event_store import EventFilter
from redirector.recording.events import Event

__all__ = ["MAX_EVENTS", "READERS", "Readers", "add_message_pages"]

# Per-day counts read at most this many of a message's events: a page, not an export.
MAX_EVENTS = 200_000
_PAGE = 10_000


@dataclass(frozen=True)
class Readers:
    """The admin app's readers: the message's stats, its events, and the thread they run
    in."""

    stats: Callable[[str], MessageStats]
    events: Callable[[EventFilter], list[Event]]
    in_thread: Callable[[Callable[[], Any]], Awaitable[Any]]


READERS = web.AppKey("web_readers", Readers)


def read_message(readers: Readers, message_id: str) -> tuple[MessageStats, MessageEvents]:
    stats = readers.stats(message_id)
    found: list[Event] = []
    cursor = None
    while len(found) < MAX_EVENTS:
        batch = readers.events(EventFilter(message_id=message_id, after_id=cursor, limit=_PAGE))
        found += batch
        if len(batch) < _PAGE:
            return stats, count_events(found)
        cursor = batch[-1].id
    return stats, count_events(found, complete=False)


async def message(request: web.Request) -> web.Response:
    session = session_of(request)
    message_id = request.query.get("message_id", "").strip()
    if not message_id:
        body = message_form()
        title = "Messages"
    else:
        readers = request.app[READERS]
        stats, events = await readers.in_thread(lambda: read_message(readers, message_id))
        body = message_page(stats, events)
        title = f"Message {message_id}"
    text = page(title, body, session.csrf, session.take_notice())
    return web.Response(text=text, content_type="text/html")


def add_message_pages(app: web.Application, readers: Readers) -> None:
    app[READERS] = readers
    app.router.add_get("/messages", message)
