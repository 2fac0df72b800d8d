"""One writer thread per process: group commit, spool fallback, spool replay.

Request handlers `await record(event)`. Events gather on the loop while the thread
commits the previous batch; then the whole gathering goes over in one hand-off, is
committed in one transaction, and its handlers are woken in one call. So the 302 goes
out only once its event is durable, and the two threads meet once per batch, not once
per event (each meeting is a wake-up and a GIL hand-over).

When the database fails, the batch is appended to
the spool (fsync'd) instead: still durable, and the recipient never sees the failure.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable

from redirector import metrics
from redirector.bot_rules import BurstPolicy
from redirector.event_store import EventStore, StoreUnavailable
from redirector.events import Event
from redirector.spool import Spool

log = logging.getLogger("trackway.writer")

_STOP = object()


class EventWriter:
    def __init__(
        self,
        open_store: Callable[[], EventStore],
        spool: Spool,
        *,
        burst_links: int,
        burst_seconds: float,
        retry_seconds: float,
    ) -> None:
        self._open_store = open_store
        self._store: EventStore | None = None
        self.spool = spool
        self.burst = BurstPolicy(burst_links, burst_seconds)
        self.retry_seconds = retry_seconds
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="trackway-writer", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        # Loop side: events waiting for the next hand-off, and whether a batch is with
        # the thread now. Touched only on the loop.
        self._gathering: list[tuple[Event, asyncio.Future[None]]] = []
        self._in_flight = False
        self._hand_off_scheduled = False
        self._next_replay = 0.0
        self._held: list[Event] = []  # neither database nor spool took them: keep trying
        # Set when this process spooled (or found a spool at start): the spool is looked
        # at only then, not on every batch.
        self._spooled = True

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    async def record(self, event: Event) -> None:
        loop = self._loop
        assert loop is not None, "start() the writer first"
        done = loop.create_future()
        self._gathering.append((event, done))
        if not self._in_flight and not self._hand_off_scheduled:
            # After the other handlers of this loop turn have added theirs.
            self._hand_off_scheduled = True
            loop.call_soon(self._hand_off)
        await done

    def _hand_off(self) -> None:
        self._hand_off_scheduled = False
        if self._in_flight or not self._gathering:
            return
        batch, self._gathering = self._gathering, []
        self._in_flight = True
        self._queue.put(batch)

    def _batch_done(self, futures: list[asyncio.Future[None]]) -> None:
        self._in_flight = False
        for done in futures:
            if not done.done():
                done.set_result(None)
        self._hand_off()

    async def close(self) -> None:
        """Commit everything recorded so far, then end the thread."""
        while self._in_flight or self._gathering:
            self._hand_off()
            await asyncio.sleep(0.005)
        self._queue.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)

    def _run(self) -> None:
        self._replay_if_due(force=True)
        stopping = False
        while not stopping:
            timeout = self.retry_seconds if (self._held or self._spooled) else None
            try:
                first = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._replay_if_due()
                continue
            if first is _STOP:
                stopping = True
            else:
                batch: list[tuple[Event, asyncio.Future[None]]] = first  # type: ignore[assignment]
                self._commit([event for event, _ in batch])
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self._batch_done, [done for _, done in batch])
            self._replay_if_due()
        self._close_store()

    def _commit(self, events: list[Event]) -> None:
        started = time.perf_counter()
        try:
            self._store_or_raise().write_batch(events, self.burst)
            metrics.EVENTS_WRITTEN.labels("database").inc(len(events))
        except StoreUnavailable as e:
            self._close_store()
            log.warning("database unavailable (%s); spooling %d events", e, len(events))
            try:
                self.spool.append(events)
                metrics.EVENTS_WRITTEN.labels("spool").inc(len(events))
            except OSError as spool_error:
                log.error(
                    "spool unavailable too (%s); holding %d events", spool_error, len(events)
                )
                self._held += events
            self._spooled = True
            self._next_replay = time.monotonic() + self.retry_seconds
        metrics.WRITE_BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.WRITE_BATCH_SIZE.observe(len(events))

    def _replay_if_due(self, force: bool = False) -> None:
        if not (self._held or self._spooled):
            return
        if not force and time.monotonic() < self._next_replay:
            return
        if not (self._held or self.spool.pending()):
            self._spooled = False
            metrics.SPOOL_EVENTS.set(0)
            return
        try:
            store = self._store_or_raise()
            if self._held:
                store.insert_missing(self._held)
                self._held = []
            moved = self.spool.replay(store)
            if moved:
                log.info("replayed %d spooled events into the database", moved)
            self._spooled = False
            metrics.SPOOL_EVENTS.set(0)
        except (StoreUnavailable, OSError) as e:
            self._close_store()
            self._next_replay = time.monotonic() + self.retry_seconds
            metrics.SPOOL_EVENTS.set(self.spool.count())
            log.debug("spool replay deferred: %s", e)

    def _store_or_raise(self) -> EventStore:
        if self._store is None:
            self._store = self._open_store()
        return self._store

    def _close_store(self) -> None:
        if self._store is not None:
            try:
                self._store.close()
            except Exception:  # a broken connection may fail to close; it is dropped anyway
                log.debug("closing the store failed", exc_info=True)
            self._store = None
