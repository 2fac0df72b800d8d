"""The message view's handler. Its reads run off the loop, through the admin app's
executor (`Readers`), as `/api/stats` does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from proxy.admin.web.guard import session_of
from proxy.admin.web.markup import page
from proxy.admin.web.message_views import message_form, message_page
from redirector.recording.event_reader import MessageStats

__all__ = ["READERS", "Readers", "add_message_pages"]


@dataclass(frozen=True)
class Readers:
    """The admin app's readers: a message's stats by day, and the thread they run in."""

    stats: Callable[[str], MessageStats]
    in_thread: Callable[[Callable[[], Any]], Awaitable[Any]]


READERS = web.AppKey("web_readers", Readers)


async def message(request: web.Request) -> web.Response:
    session = session_of(request)
    message_id = request.query.get("message_id", "").strip()
    if not message_id:
        body = message_form()
        title = "Messages"
    else:
        readers = request.app[READERS]
        stats = await readers.in_thread(lambda: readers.stats(message_id))
        body = message_page(stats)
        title = f"Message {message_id}"
    text = page(title, body, session.csrf, session.take_notice())
    return web.Response(text=text, content_type="text/html")


def add_message_pages(app: web.Application, readers: Readers) -> None:
    app[READERS] = readers
    app.router.add_get("/messages", message)
