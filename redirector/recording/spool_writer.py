"""The click path's writer: each batch of hits is appended to this process's spool file
and synced to disk in a thread of its own; its clicks are answered once it is on disk.

Every process that answers clicks records this way (the workers of `serve`, and the
in-process app of tests and embedders); a loader (`spool_loader.py`) moves the files
into the database behind them. The click routes hand a hit to `record_then` (the fast
path) or `await record` (aiohttp's path): group commit by way of `gathering.py`.

The database sits behind (the writer process loads the files), so a click waits
neither for SQLite nor for another process: one `write` and one `fdatasync` per batch,
and batches grow with load. A click is never held hostage by our storage: if the disk
refuses the write (full once the space reserved ahead is used, read-only, failing),
the events are held in memory (up to MAX_HELD_BYTES) and tried again every second, and
the clicks are answered all the same; so are they after APPEND_SECONDS when the disk
hangs. Such events are durable only once written: until then they are counted in
`trackway_events_not_durable`, the log says so every minute, and a process that dies
loses them. Past MAX_HELD_BYTES the oldest held batches are dropped (the newest kept):
counted in `trackway_events_lost_total` and logged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from typing import NamedTuple

from redirector import metrics
from redirector.recording.gathering import Batch, Gatherer
from redirector.recording.hits import Hit
from redirector.recording.spool import Spool, encode_hits

log = logging.getLogger("trackway.writer")
APPEND_SECONDS = 5.0
RETRY_SECONDS = 1.0
MAX_HELD_BYTES = 256 * 1024 * 1024
REMIND_SECONDS = 60.0  # while events are held, how often the log says so again


class _Outcome(NamedTuple):
    """An append, as the spool thread tells the loop: the seconds it took (None: it
    failed, or there was nothing to write), the events held in memory after it and
    those it dropped to keep within MAX_HELD_BYTES."""

    seconds: float | None
    held: int
    lost: int = 0


class SpoolWriter:
    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self._gatherer: Gatherer[Hit] = Gatherer(self._submit)
        # One thread: appends stay in order and the file has one writer.
        self._thread = concurrent.futures.ThreadPoolExecutor(1, "trackway-spool")
        # The disk refused them, oldest first: written with the next batch.
        self._held: list[tuple[bytes, int]] = []  # (payload, its events)
        self._failing = False
        self._next_reminder = 0.0
        # Seen on the loop: events held after the last append, and events answered
        # before their (overdue) append ended: together, what is not durable.
        self._held_seen = 0
        self._answered_early = 0
        self._shown = 0
        self._retry: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def record(self, hit: Hit) -> None:
        """Return once the hit is durable (or, the disk failing, held: see above)."""
        await self._gatherer.add(hit)

    def record_then(self, hit: Hit, callback: Callable[[], None]) -> None:
        """On the loop: `callback()` runs, on the loop, once the hit is durable."""
        self._gatherer.add_then(hit, callback)

    async def close(self) -> None:
        """Make everything recorded so far durable, then stop."""
        while not self._gatherer.idle:
            await asyncio.sleep(0.005)
        loop = asyncio.get_running_loop()
        if self._retry is not None:
            self._retry.cancel()
        last = await loop.run_in_executor(self._thread, self._append, b"", 0)  # held
        await loop.run_in_executor(self._thread, self.spool.release)
        self._thread.shutdown()
        self._count_lost(last.lost + last.held)
        if last.held:
            log.error("%d events could not be written to the spool: lost", last.held)

    def _submit(self, batch: Batch[Hit]) -> None:
        # Encoded here, metrics counted on the loop: the thread holds the GIL for as
        # little as it can, or the loop waits for it.
        future = self._thread.submit(self._append, encode_hits(batch.items), len(batch.items))
        loop = self._loop
        assert loop is not None, "start() first"
        answered = [False]
        # A disk that hangs (not fails) must not hold clicks forever: past APPEND_SECONDS
        # they are answered, and the write goes on in the thread.
        overdue = loop.call_later(APPEND_SECONDS, self._overdue, batch, answered)
        future.add_done_callback(
            lambda f: loop.call_soon_threadsafe(self._appended, batch, f, answered, overdue)
        )

    def _overdue(self, batch: Batch[Hit], answered: list[bool]) -> None:
        log.error("the spool took over %.0f s to write; answering %d clicks before it is done",
                  APPEND_SECONDS, len(batch.items))  # fmt: skip
        answered[0] = True
        self._answered_early += len(batch.items)
        self._show_not_durable()
        self._gatherer.done(batch)

    def _appended(
        self,
        batch: Batch[Hit],
        future: concurrent.futures.Future[_Outcome],
        answered: list[bool],
        overdue: asyncio.TimerHandle,
    ) -> None:
        overdue.cancel()
        if answered[0]:
            self._answered_early -= len(batch.items)
        else:
            self._gatherer.done(batch)
        self._retried(future)
        outcome = future.result() if future.exception() is None else None
        if outcome is not None and outcome.seconds is not None:
            metrics.instruments().write_batch_seconds.observe(outcome.seconds)
            metrics.instruments().write_batch_size.observe(len(batch.items))
            metrics.instruments().events_written.labels("spool").inc(len(batch.items))

    def _retry_held(self) -> None:
        self._retry = None
        if self._held:
            future = self._thread.submit(self._append, b"", 0)
            loop = self._loop
            assert loop is not None
            future.add_done_callback(lambda f: loop.call_soon_threadsafe(self._retried, f))

    def _retried(self, future: concurrent.futures.Future[_Outcome]) -> None:
        if future.exception() is None:
            outcome = future.result()
            self._held_seen = outcome.held
            self._show_not_durable()
            self._count_lost(outcome.lost)
        self._schedule_retry()

    def _count_lost(self, lost: int) -> None:
        if lost:
            metrics.instruments().events_lost.inc(lost)

    def _show_not_durable(self) -> None:
        not_durable = self._held_seen + self._answered_early
        if not_durable != self._shown:  # mostly 0: no write to the shared values
            metrics.instruments().events_not_durable.set(not_durable)
            self._shown = not_durable

    def _schedule_retry(self) -> None:
        """While events are held, a quiet worker tries them again too."""
        if self._held and self._retry is None and self._loop is not None:
            self._retry = self._loop.call_later(RETRY_SECONDS, self._retry_held)

    def _append(self, payload: bytes, count: int) -> _Outcome:
        """In the spool thread: write `payload` (and what is held) or hold it."""
        batches = [*self._held, (payload, count)] if payload else self._held
        self._held = []
        if not batches:
            return _Outcome(None, 0)
        count = sum(events for _, events in batches)
        started = time.perf_counter()
        try:
            self.spool.append_encoded(b"".join(data for data, _ in batches))
        except Exception as e:  # OSError mostly; whatever it is, no click may hang on it
            lost = self._hold(batches, e)
            return _Outcome(None, count - lost, lost)
        if self._failing:
            log.info("the spool takes writes again: %d held events written", count)
            self._failing = False
        return _Outcome(time.perf_counter() - started, 0)

    def _hold(self, batches: list[tuple[bytes, int]], error: Exception) -> int:
        """Hold `batches` but the oldest beyond MAX_HELD_BYTES; the events dropped."""
        size = sum(len(data) for data, _ in batches)
        lost = 0
        while batches and size > MAX_HELD_BYTES:  # memory is not a spool: keep the newest
            data, events = batches.pop(0)
            size -= len(data)
            lost += events
        if lost:
            log.error(
                "the spool has refused writes too long: %d events lost (the oldest held: "
                "memory holds %d bytes at most)",
                lost,
                MAX_HELD_BYTES,
            )
        self._held = batches
        count = sum(events for _, events in batches)
        now = time.monotonic()
        if not self._failing or now >= self._next_reminder:
            log.error(
                "%s the spool (%s): %d events held in memory, their clicks answered; "
                "not durable until it takes writes again",
                "still cannot write" if self._failing else "cannot write",
                getattr(error, "strerror", None) or error,
                count,
            )
            self._failing = True
            self._next_reminder = now + REMIND_SECONDS
        return lost
