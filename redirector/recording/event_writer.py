"""Writers: where click handlers hand their hits so that each is durable before the 302.

`Writer` is the contract. `ThreadWriter` commits to the database in a thread of this
process (one process: tests, embedding); `serve` gives each worker a `SpoolWriter`
(`spool_writer.py`), which only appends to the worker's spool file, because SQLite work
in a thread that shares the GIL with a busy loop made each click wait for it (measured:
40 µs more per event than in a process of its own).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Protocol

from config import ClickSettings
from redirector.recording.batch_committer import BatchCommitter
from redirector.recording.gathering import Batch, Gatherer
from redirector.recording.hits import Hit, event_from_hit

_STOP = object()


class Writer(Protocol):
    def start(self) -> None: ...

    async def record(self, hit: Hit) -> None:
        """Return once the hit's event is committed or spooled (durable either way)."""

    def record_then(self, hit: Hit, callback: Callable[[], None]) -> None:
        """On the loop: `callback()` runs, on the loop, once the hit's event is durable."""

    async def close(self) -> None:
        """Make everything recorded so far durable, then stop."""


class GatheringWriter:
    """`record` and `record_then` by way of the subclass's `Gatherer`."""

    _gatherer: Gatherer[Hit]

    async def record(self, hit: Hit) -> None:
        await self._gatherer.add(hit)

    def record_then(self, hit: Hit, callback: Callable[[], None]) -> None:
        self._gatherer.add_then(hit, callback)

    async def _until_idle(self) -> None:
        while not self._gatherer.idle:
            await asyncio.sleep(0.005)


class ThreadWriter(GatheringWriter):
    def __init__(self, committer: BatchCommitter, clicks: ClickSettings, salt: bytes) -> None:
        self.committer = committer
        self.clicks = clicks
        self.salt = salt
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._gatherer: Gatherer[Hit] = Gatherer(self._queue.put)
        self._thread = threading.Thread(target=self._run, name="trackway-writer", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    async def close(self) -> None:
        await self._until_idle()
        self._queue.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)

    def _run(self) -> None:
        committer = self.committer
        committer.replay_if_due(force=True)
        while True:
            timeout = committer.retry_seconds if committer.pending else None
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                committer.replay_if_due()
                continue
            if item is _STOP:
                break
            assert isinstance(item, Batch)
            committer.commit([event_from_hit(hit, self.clicks, self.salt) for hit in item.items])
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._gatherer.done, item)
            committer.replay_if_due()
        committer.close()
