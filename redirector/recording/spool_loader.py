"""The writer process's work: load the spool files into the database, behind the clicks.

Workers make each event durable in their own spool file before they answer; this loads
those files into SQLite in big transactions (cheap per event) and finds bursts on the
way, since it is the one place that sees every event of the data folder. When the
database cannot take a batch, nothing is lost: the events stay in their files and the
load is tried again after `retry_seconds`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redirector import metrics
from redirector.recording.bot_rules import BurstPolicy
from redirector.recording.burst_tracker import Remark
from redirector.recording.event_store import EventStore, StoreUnavailable
from redirector.recording.events import Event
from redirector.recording.spool import Spool
from redirector.recording.writer_store import WriterStore

log = logging.getLogger("trackway.writer")
LOAD_LIMIT = 20_000  # events in one transaction


class SpoolLoader:
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
        self.retry_seconds = retry_seconds
        self._loads = 0
        self._failing_since: float | None = None
        self._next_try = 0.0

    def load(self) -> int:
        """Load what the files hold now; the number of events loaded (0: none, or the
        database is unavailable and the next try is not due)."""
        now = time.monotonic()
        if now < self._next_try:
            return 0
        try:
            taken = self.spool.take(LOAD_LIMIT)
            if not taken.events:
                self.spool.taken(taken)  # deletes files that are done, if any
                return 0
        except OSError as e:  # the spool folder itself: say so, try again later
            log.error("cannot read the spool: %s", e)
            self._next_try = now + self.retry_seconds
            return 0
        started = time.perf_counter()
        # Workers' files interleave; bursts are found in time order (ids are).
        events = sorted(taken.events, key=lambda e: e.id)
        try:
            store = self.store.get()
            # Learned only once committed: a retry after a failure finds the same bursts.
            remarks = self.bursts.observe(events, remember=False)
            try:
                store.write_batch(events, remarks)
            except StoreUnavailable:
                raise
            except Exception:  # not the database: something in the batch it cannot take
                self._write_one_by_one(store, events, remarks)
            self.bursts.remember(events)
        except Exception as e:
            self.store.close()
            self._next_try = now + self.retry_seconds
            metrics.SPOOL_EVENTS.set(len(events))
            if self._failing_since is None:
                self._failing_since = now
                log.warning("database unavailable (%s); events wait in the spool", e)
            return 0
        try:
            self.spool.taken(taken)
        except OSError as e:  # loaded, not deleted: loading it again records nothing twice
            log.error("cannot delete loaded spool files: %s", e)
        if self._failing_since is not None:
            log.info("database available again; loading the spool")
            self._failing_since = None
        self._loads += 1
        if self._loads % 100 == 0:
            self.store.forget_old_clients()
        metrics.EVENTS_WRITTEN.labels("database").inc(len(events))
        metrics.LOAD_BATCH_SECONDS.observe(time.perf_counter() - started)
        metrics.SPOOL_EVENTS.set(0 if len(events) < LOAD_LIMIT else len(events))
        return len(events)

    def _write_one_by_one(
        self, store: EventStore, events: list[Event], remarks: list[Remark]
    ) -> None:
        """Every event the store takes; the others are logged whole and left out, for
        one bad event must not hold up every event after it."""
        store.write_batch([], remarks)
        for event in events:
            try:
                store.write_batch([event])
            except StoreUnavailable:
                raise
            except Exception as e:
                log.error("the database refused an event (%s), left out: %r", e, event)

    def load_all(self) -> None:
        """Until the files are empty or the database fails (at shutdown)."""
        self._next_try = 0.0
        while self.load():
            pass

    def close(self) -> None:
        self.store.close()
