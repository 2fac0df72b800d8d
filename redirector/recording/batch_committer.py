"""Commit a batch of events, or spool it: never lose one, never fail the caller.

Synchronous; the writer thread (one process) or the writer process's loop calls it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redirector import metrics
from redirector.recording.bot_rules import BurstPolicy
from redirector.recording.event_store import EventStore, StoreUnavailable
from redirector.recording.events import Event
from redirector.recording.spool import Spool
from redirector.recording.writer_store import WriterStore

log = logging.getLogger("trackway.writer")


class BatchCommitter:
    def __init__(
        self,
        open_store: Callable[[], EventStore],
        spool: Spool,
        burst: BurstPolicy,
        retry_seconds: float,
    ) -> None:
        self.store = WriterStore(open_store, burst)
        self.bursts = self.store.bursts
        self.spool = spool
        self._commits = 0
        self.retry_seconds = retry_seconds
        self._next_replay = 0.0
        self._next_look = 0.0
        self._held: list[Event] = []  # neither database nor spool took them: keep trying
        # True when there may be spooled events (at start, after spooling): the spool is
        # looked at only then, not on every batch.
        self.spooled = True

    @property
    def pending(self) -> bool:
        return self.spooled or bool(self._held)

    def commit(self, events: list[Event]) -> None:
        started = time.perf_counter()
        remarks = self.bursts.observe(events)  # before the commit: spooled events carry it too
        self._commits += 1
        if self._commits % 1000 == 0:
            self.forget_old_clients()
        try:
            store = self.store.get()
            store.write_batch(events, remarks)
            metrics.EVENTS_WRITTEN.labels("database").inc(len(events))
        except Exception as e:
            self.store.close()
            log.warning("database unavailable (%s); spooling %d events", e, len(events))
            try:
                self.spool.append(events)
                metrics.EVENTS_WRITTEN.labels("spool").inc(len(events))
            except OSError as spool_error:
                log.error(
                    "spool unavailable too (%s); holding %d events", spool_error, len(events)
                )
                self._held += events
            self.spooled = True
            self._next_replay = time.monotonic() + self.retry_seconds
        metrics.WRITE_BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.WRITE_BATCH_SIZE.observe(len(events))

    def replay_if_due(self, force: bool = False) -> None:
        if not self.pending:
            # Another process (a worker cut off from the writer) may have spooled: look,
            # but only now and then.
            now = time.monotonic()
            if now < self._next_look:
                return
            self._next_look = now + self.retry_seconds
            self.spooled = self.spool.pending()
            if not self.spooled:
                return
        if not force and time.monotonic() < self._next_replay:
            return
        if not (self._held or self.spool.pending()):
            self.spooled = False
            metrics.SPOOL_EVENTS.set(0)
            return
        try:
            store = self.store.get()
            if self._held:
                store.insert_missing(self._held)
                self._held = []
            moved = self.spool.replay(store)
            if moved:
                log.info("replayed %d spooled events into the database", moved)
            self.spooled = False
            metrics.SPOOL_EVENTS.set(0)
        except (StoreUnavailable, OSError) as e:
            self.store.close()
            self._next_replay = time.monotonic() + self.retry_seconds
            metrics.SPOOL_EVENTS.set(self.spool.count())
            log.debug("spool replay deferred: %s", e)

    def forget_old_clients(self) -> None:
        self.store.forget_old_clients()

    def close(self) -> None:
        self.store.close()
