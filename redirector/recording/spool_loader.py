"""Loading the spool files into the database, behind the clicks: the one way events
reach the database (the writer process of `serve`, or a task of the in-process app).

Clicks are made durable in their process's spool file before they are answered; this
loads those files into SQLite in big transactions (cheap per event) and finds bursts on
the way, since it is the one place that sees every event of the data folder. When the
database cannot take a batch, nothing is lost: the events stay in their files and the
load is tried again after `retry_seconds`, then less often while it keeps failing
(`load_pacing.retry_delay`); one line is logged when it starts failing, one when it
works again. The store is SQLite or PostgreSQL (`EventStore`): one pipeline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterator

from redirector import metrics
from redirector.recording.bot_rules import BurstPolicy
from redirector.recording.burst_tracker import BurstTracker, Remark
from redirector.recording.cpu_idle import CpuIdleMeter
from redirector.recording.event_store import EventStore, StoreUnavailable
from redirector.recording.events import Event
from redirector.recording.load_pacing import QUIET_SECONDS, rest_after_load, retry_delay
from redirector.recording.spool import Spool, Taken

log = logging.getLogger("trackway.writer")
LOAD_LIMIT = 20_000  # events in one transaction
IDLE_SECONDS = 0.05  # how soon a click reaches the database when all is quiet
IDLE_LOOK_SECONDS = 2.0  # with nothing to load, how often the database is looked at
BACKLOG_COUNT_SECONDS = 1.0
REST_LOOK_SECONDS = 0.5  # in a long rest, how often to look whether the clicks stopped


class LoaderStore:
    """The loader's store: opened on first use and again after a failure; the first
    opening warms the burst tracker with the last window's events, so that bursts that
    began before a restart still count."""

    def __init__(self, open_store: Callable[[], EventStore], burst: BurstPolicy) -> None:
        self._open_store = open_store
        self._store: EventStore | None = None
        self.bursts = BurstTracker(burst)
        self._warmed = False

    def get(self) -> EventStore:
        """The open store; raises StoreUnavailable (or what opening raised)."""
        if self._store is None:
            self._store = self._open_store()
            if not self._warmed:
                window = self.bursts.policy.seconds
                self.bursts.warm(self._store.recent(time.time() - window))
                self._warmed = True
        return self._store

    def forget_old_clients(self, oldest: float) -> None:
        """Clients idle since a window before `oldest`, the time of the batch's oldest
        event (not the clock's: a spool loaded hours late keeps its bursts)."""
        self.bursts.forget_before(oldest - self.bursts.policy.seconds)

    def close(self) -> None:
        """After a failure (the next `get` opens it anew), or at the end."""
        if self._store is not None:
            try:
                self._store.close()
            except Exception:
                log.debug("closing the store failed", exc_info=True)
            self._store = None


class SpoolLoader:
    def __init__(
        self,
        open_store: Callable[[], EventStore],
        spool: Spool,
        burst: BurstPolicy,
        retry_seconds: float,
    ) -> None:
        self.store = LoaderStore(open_store, burst)
        self.bursts = self.store.bursts
        self.spool = spool
        self.retry_seconds = retry_seconds
        self._loads = 0
        self._failing_since: float | None = None
        self._failures = 0  # failed loads in a row
        self._next_try = 0.0
        self._next_look = 0.0
        self._next_backlog_count = 0.0
        # The next batch, read while this one is written (the database works in its own
        # process meanwhile): only with a backlog; dropped when this one fails.
        self._ahead: concurrent.futures.Future[Taken] | None = None
        self._reader: concurrent.futures.ThreadPoolExecutor | None = None

    def load(self) -> int:
        """Load what the files hold now; the number of events loaded (0: none, or the
        database is unavailable and the next try is not due)."""
        with _cyclic_gc_paused():
            return self._load()

    def _load(self) -> int:
        now = time.monotonic()
        if now < self._next_try:
            if self._failing_since is not None:  # clicks keep coming meanwhile
                self._count_backlog(now)
            return 0
        try:
            taken = self._take()
            if not taken.events:
                self.spool.taken(taken)  # deletes files that are done, if any
                self._look_when_idle(now)
                return 0
        except OSError as e:  # the spool folder itself: say so, try again later
            log.error("cannot read the spool: %s", e)
            self._next_try = now + self.retry_seconds
            return 0
        started = time.perf_counter()
        if len(taken.events) >= LOAD_LIMIT:
            self._read_ahead(taken)
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
            self._drop_ahead()
            self._failed(now, e)
            metrics.instruments().spool_events.set(len(events))
            return 0
        try:
            self.spool.taken(taken)
        except OSError as e:  # loaded, not deleted: loading it again records nothing twice
            log.error("cannot delete loaded spool files: %s", e)
        self._worked()
        self._loads += 1
        if self._loads % 100 == 0:
            self.store.forget_old_clients(min(e.time for e in events))
        instruments = metrics.instruments()
        instruments.events_written.labels("database").inc(len(events))
        instruments.load_batch_seconds.observe(time.perf_counter() - started)
        instruments.spool_events.set(0 if len(events) < LOAD_LIMIT else len(events))
        instruments.store_last_load.set(time.time())
        if len(events) < LOAD_LIMIT:
            instruments.store_backlog_events.set(0)
        else:
            self._count_backlog(now)
        return len(events)

    def _failed(self, now: float, error: Exception) -> None:
        """The database failed us: closed, tried again later, said once."""
        self.store.close()
        self._failures += 1
        self._next_try = now + retry_delay(self._failures, self.retry_seconds)
        metrics.instruments().store_up.set(0)
        self._count_backlog(now)
        if self._failing_since is None:
            self._failing_since = now
            log.warning("cannot load into the database (%s); events wait in the spool", error)

    def _worked(self) -> None:
        self._failures = 0
        metrics.instruments().store_up.set(1)
        if self._failing_since is not None:
            log.info("database available again; loading the spool")
            self._failing_since = None

    def _count_backlog(self, now: float) -> None:
        """The spool's events not loaded (`/metrics`), counted at most every second."""
        if now >= self._next_backlog_count:
            self._next_backlog_count = now + BACKLOG_COUNT_SECONDS
            metrics.instruments().store_backlog_events.set(self.spool.backlog())

    def _look_when_idle(self, now: float) -> None:
        """With nothing to load, a cheap read now and then: `trackway_store_up` says
        whether the database is there before a click needs it."""
        metrics.instruments().store_backlog_events.set(0)
        if now < self._next_look:
            return
        self._next_look = now + IDLE_LOOK_SECONDS
        try:
            self.store.get().recent(time.time())
        except Exception as e:
            self._failed(now, e)
        else:
            self._worked()

    def _take(self) -> Taken:
        ahead, self._ahead = self._ahead, None
        return ahead.result() if ahead is not None else self.spool.take(LOAD_LIMIT)

    def _read_ahead(self, taken: Taken) -> None:
        if self._reader is None:
            self._reader = concurrent.futures.ThreadPoolExecutor(1, "trackway-spool-reader")
        self._ahead = self._reader.submit(self.spool.take, LOAD_LIMIT, taken)

    def _drop_ahead(self) -> None:
        """Its offsets assume the batch before it committed: read again later."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            concurrent.futures.wait([ahead])

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
        self._drop_ahead()
        if self._reader is not None:
            self._reader.shutdown()
            self._reader = None
        self.store.close()


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """A batch makes some 100k objects, none in a cycle (refcounts free them), beside the
    burst tracker's 200k: the cyclic collector walked them all several times a batch, a
    quarter of the loader's time (100 000 spooled clicks as bench/store.py makes them,
    through the loader into PostgreSQL: 52k events/s with it, 67k without). It runs
    between batches. Process-wide: in the in-process app the
    clicks' loop too goes without it for a batch's time (bounded by the store's
    timeouts); what it would collect waits that long."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def keep_loading(
    loader: SpoolLoader,
    stop: asyncio.Event,
    priority: str,
    idle_meter: CpuIdleMeter | None = None,
) -> None:
    """Load until `stop` is set, paced by `priority` (see `load_pacing.py`); then, once
    the clicks' writers are done (the caller stops them first), load what is left.

    SQLite work runs in a thread of its own, so that the loop stays free: in the
    in-process app the same loop answers clicks."""
    meter = idle_meter or CpuIdleMeter()
    thread = concurrent.futures.ThreadPoolExecutor(1, "trackway-loader")
    loop = asyncio.get_running_loop()
    try:
        while not stop.is_set():
            started = time.monotonic()
            if await loop.run_in_executor(thread, loader.load) == 0:
                rest = IDLE_SECONDS  # caught up, or waiting for the database
            else:
                spent = time.monotonic() - started
                backlog = loader.spool.size()
                quiet = time.time() - loader.spool.last_write()
                rest = rest_after_load(spent, meter.idle_share(), backlog, priority, quiet)
            await _rest(loader.spool, stop, rest)
        await loop.run_in_executor(thread, loader.load_all)
    finally:
        await loop.run_in_executor(thread, loader.close)
        thread.shutdown()


async def _rest(spool: Spool, stop: asyncio.Event, seconds: float) -> None:
    """Until `stop`, or `seconds` passed, or the clicks stopped: a rest of nine times a
    long batch's time, decided while they came, must not hold the backlog up after."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), min(left, REST_LOOK_SECONDS))
        if stop.is_set() or (seconds > REST_LOOK_SECONDS and _quiet(spool)):
            return


def _quiet(spool: Spool) -> bool:
    return time.time() - spool.last_write() >= QUIET_SECONDS
