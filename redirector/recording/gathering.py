"""Group commit on the event loop: gather while one batch is out, then send the rest.

Callers hand an item with the callback to run once it is durable (`add_then`), or
`await add(item)`. When no batch is out, the items gathered during this loop turn go
to `submit` together; whoever takes them calls `done(batch)` when they are durable,
which runs their callbacks and sends what gathered meanwhile. One batch is out at a
time, so batches grow with load by themselves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("trackway.writer")


class Batch(Generic[T]):
    __slots__ = ("callbacks", "items")

    def __init__(self, items: list[T], callbacks: list[Callable[[], None]]) -> None:
        self.items = items
        self.callbacks = callbacks


def _wake(future: asyncio.Future[None]) -> Callable[[], None]:
    def wake() -> None:
        if not future.done():
            future.set_result(None)

    return wake


class Gatherer(Generic[T]):
    def __init__(self, submit: Callable[[Batch[T]], None]) -> None:
        self._submit = submit
        self._items: list[T] = []
        self._callbacks: list[Callable[[], None]] = []
        self._out = False
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def add_then(self, item: T, callback: Callable[[], None]) -> None:
        """On the loop: `callback()` runs, on the loop, once `item` is durable."""
        self._items.append(item)
        self._callbacks.append(callback)
        if not self._out and not self._scheduled:
            self._scheduled = True  # after the other handlers of this turn add theirs
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            loop.call_soon(self._send)

    async def add(self, item: T) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.add_then(item, _wake(done))
        await done

    def _send(self) -> None:
        self._scheduled = False
        if self._out or not self._items:
            return
        batch = Batch(self._items, self._callbacks)
        self._items, self._callbacks = [], []
        self._out = True
        self._submit(batch)

    def done(self, batch: Batch[T]) -> None:
        """Call on the loop when `batch` is durable."""
        self._out = False
        for callback in batch.callbacks:
            try:
                callback()
            except Exception:  # one broken waiter must not strand the others
                log.exception("a commit callback failed")
        self._send()

    @property
    def idle(self) -> bool:
        return not self._out and not self._items
