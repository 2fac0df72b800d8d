"""Group commit on the event loop: gather while one batch is out, then send the rest.

Handlers `await gather.add(item)`. When no batch is out, the items gathered during this
loop turn go to `submit` together; whoever takes them calls `done(batch)` when they are
durable, which wakes their handlers and sends what gathered meanwhile. One batch is out
at a time, so batches grow with load by themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Batch(Generic[T]):
    __slots__ = ("futures", "items")

    def __init__(self, items: list[T], futures: list[asyncio.Future[None]]) -> None:
        self.items = items
        self.futures = futures


class Gatherer(Generic[T]):
    def __init__(self, submit: Callable[[Batch[T]], None]) -> None:
        self._submit = submit
        self._items: list[T] = []
        self._futures: list[asyncio.Future[None]] = []
        self._out = False
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def add(self, item: T) -> None:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._items.append(item)
        self._futures.append(done)
        if not self._out and not self._scheduled:
            self._scheduled = True  # after the other handlers of this turn add theirs
            loop.call_soon(self._send)
        await done

    def _send(self) -> None:
        self._scheduled = False
        if self._out or not self._items:
            return
        batch = Batch(self._items, self._futures)
        self._items, self._futures = [], []
        self._out = True
        self._submit(batch)

    def done(self, batch: Batch[T]) -> None:
        """Call on the loop when `batch` is durable."""
        self._out = False
        for future in batch.futures:
            if not future.done():
                future.set_result(None)
        self._send()

    @property
    def idle(self) -> bool:
        return not self._out and not self._items
