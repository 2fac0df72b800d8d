"""The spool folder: appending this process's records, reading and loading everyone's."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from config.datafolder import ensure_data_dir
from redirector import metrics
from redirector.recording.events import Event
from redirector.recording.hits import Hit
from redirector.recording.spool.own_file import STAGING, SUFFIX, V2_SUFFIX, OwnFile
from redirector.recording.spool.records import Scan, record, scan, scan_legacy
from redirector.recording.spool.rows import (
    events_payload,
    hits_payload,
    payload_events,
    payload_length,
    settings_free_event,
)

log = logging.getLogger("trackway.spool")
SPOOL_DIR = "spool"
DAMAGED_DIR = "damaged"  # in SPOOL_DIR: files with damage, kept once loaded
ROTATE_BYTES = 1024 * 1024  # small: readers of the spool (exports, the API) read it whole
ROTATE_SECONDS = 10.0
RESERVE_RETRY_SECONDS = 1.0  # while the disk has no room to reserve, how often to try


def encode(events: Sequence[Event]) -> bytes:
    return record(events_payload(events))


def encode_hits(hits: Sequence[Hit]) -> bytes:
    return record(hits_payload(hits))


@dataclass
class Taken:
    """What one `take` read: its events, and where each file's reading stopped."""

    events: list[Event] = field(default_factory=list)
    offsets: dict[Path, int] = field(default_factory=dict)
    finished: list[Path] = field(default_factory=list)  # read to the end and held by no one
    damaged: dict[Path, list[tuple[int, int]]] = field(default_factory=dict)  # of finished
    cut_short: dict[Path, int] = field(default_factory=dict)  # of finished: where


class Spool:
    def __init__(
        self,
        data_dir: Path,
        sync: bool = True,
        to_event: Callable[[Hit], Event] = settings_free_event,
    ) -> None:
        """`sync`: each append reaches the disk before it returns (else only the
        kernel: it survives a crash of this process, not of the machine). `to_event`:
        how spooled hits become events (`proxy.state.open_spool` gives the settings')."""
        self.dir = ensure_data_dir(data_dir) / SPOOL_DIR
        self.sync = sync
        self.to_event = to_event
        self._own: OwnFile | None = None
        self._offsets: dict[Path, int] = {}  # how far this process has loaded each file
        self._next_staging_look = 0.0
        self._kept_in_place: set[Path] = set()  # damaged, and could not be moved
        self._reserve_failing = False
        self._next_reserve_try = 0.0

    # -- writing -------------------------------------------------------------------

    def append(self, events: Sequence[Event]) -> None:
        if events:
            self.append_encoded(encode(events))

    def append_encoded(self, payload: bytes) -> None:
        """Durable on return (or OSError). `payload`: records (`encode`, `encode_hits`).
        Not thread-safe: one appender per Spool."""
        own = self._current_file()
        try:
            own.write(payload, self.sync)
        finally:
            if own.broken:
                self.release()
        if own.needs_reserve() and time.monotonic() >= self._next_reserve_try:
            try:
                own.reserve_ahead()
            except OSError as e:
                self._reserve_failed(e, own)
            else:
                self._reserve_works()

    def _current_file(self) -> OwnFile:
        own = self._own
        if own is not None and own.size < ROTATE_BYTES and _age(own) < ROTATE_SECONDS:
            return own
        if own is not None and time.monotonic() < self._next_reserve_try:
            return own  # no room for a new file's reservation: this one's serves
        try:
            self.dir.mkdir(mode=0o700, exist_ok=True)
            fresh = OwnFile(self.dir, must_reserve=own is not None)
        except OSError as e:
            if own is None:
                raise
            self._reserve_failed(e, own)
            return own
        if fresh.reserve_error is not None:
            self._reserve_failed(fresh.reserve_error, fresh)
        else:
            self._reserve_works()
        self.release()
        self._own = fresh
        return fresh

    def _reserve_failed(self, error: OSError, own: OwnFile) -> None:
        self._next_reserve_try = time.monotonic() + RESERVE_RETRY_SECONDS
        if not self._reserve_failing:
            self._reserve_failing = True
            log.error(
                "cannot reserve space for the spool (%s): %d KiB reserved remain, then "
                "clicks are answered before their events are durable",
                error.strerror or error,
                own.reserved_ahead // 1024,
            )

    def _reserve_works(self) -> None:
        if self._reserve_failing:
            self._reserve_failing = False
            log.info("space for the spool reserved again")

    def release(self) -> None:
        """Let go of this process's file: from now on it can be loaded and deleted."""
        if self._own is not None:
            self._own.close()
            self._own = None

    # -- reading -------------------------------------------------------------------

    def files(self) -> list[Path]:
        try:
            return sorted(p for p in self.dir.iterdir() if p.name.endswith(SUFFIX))
        except FileNotFoundError:
            return []

    def pending(self) -> bool:
        """Whether a file holds records this process has not loaded."""
        for path in self.files():
            with contextlib.suppress(OSError):
                if _starts_record(path, self._offsets.get(path, 0)):
                    return True
        return False

    def size(self) -> int:
        """Bytes of records in the spool files (not the space reserved ahead)."""
        total = 0
        for path in self.files():
            with contextlib.suppress(OSError):  # gone, or unreadable (logged by readers)
                total += _records_size(path)
        return total

    def read_all(self) -> Iterator[Event]:
        """Every event in the files, loaded or not (readers merge them by id)."""
        for path in self.files():
            try:
                found, _ = _scan(path, 0)
            except OSError as e:
                _log_once(path, e)
                continue
            yield from self._events(path, found.payloads)

    def count(self) -> int:
        """Events not yet loaded by this process."""
        total = 0
        for path in self.files():
            try:
                found, _ = _scan(path, self._offsets.get(path, 0))
            except OSError as e:
                _log_once(path, e)
                continue
            total += len(self._events(path, found.payloads))
        return total

    def last_write(self) -> float:
        """When a spool file was last written (unix time; 0.0: none is there)."""
        newest = 0.0
        for path in self.files():
            with contextlib.suppress(OSError):
                newest = max(newest, path.stat().st_mtime)
        return newest

    def backlog(self) -> int:
        """Events not yet loaded by this process, counted without being made (for
        `/metrics`: the loader's backlog while the database is away)."""
        total = 0
        for path in self.files():
            try:
                found, _ = _scan(path, self._offsets.get(path, 0))
                total += sum(payload_length(p) for p in found.payloads)
            except (OSError, ValueError, TypeError, EOFError):
                continue  # said by the loader, which reads it too
        return total

    def _events(self, path: Path, payloads: list[bytes]) -> list[Event]:
        events: list[Event] = []
        for payload in payloads:
            try:
                events += payload_events(payload, self.to_event)
            except (ValueError, TypeError, EOFError):
                log.error("spool file %s holds a batch this version cannot read", path)
        return events

    # -- loading -------------------------------------------------------------------

    def take(self, limit: int = 50_000, after: Taken | None = None) -> Taken:
        """Events not loaded yet, oldest files first, at most about `limit`. `after`: a
        take not committed yet, whose events are left out (reading the next batch while
        that one is written; dropped, unless that one is committed). May run in another
        thread than `taken`, which only ever removes files and moves offsets forward."""
        taken = Taken()
        own = self._own.path if self._own is not None else None
        skipped = set(after.finished) if after is not None else set()
        offsets = {**self._offsets, **after.offsets} if after is not None else self._offsets
        for path in self.files():
            if len(taken.events) >= limit:
                break
            if path in self._kept_in_place or path in skipped:
                continue
            start = offsets.get(path, 0)
            try:
                # Checked before reading: a file nobody holds gets no more writes.
                done = path != own and _nobody_holds(path)
                found, read = _scan(path, start, live=not done)
            except OSError as e:  # one file this process cannot read holds up no other
                _log_once(path, e)
                continue
            if done:  # past damage to every good record; nothing comes after its end
                taken.events += self._events(path, found.payloads)
                taken.offsets[path] = start + read
                taken.finished.append(path)
                if found.damaged:
                    taken.damaged[path] = [(start + at, n) for at, n in found.damaged]
                if found.cut_short is not None:
                    taken.cut_short[path] = start + found.cut_short
            else:  # its writer may be writing what follows: up to the first doubt
                taken.events += self._events(path, found.payloads[: found.clean])
                taken.offsets[path] = start + found.clean_end
        self._remove_abandoned_staging()
        return taken

    def _remove_abandoned_staging(self) -> None:
        """Files a process crashed while making (between creating and naming them);
        looked for once a minute: `take` runs many times a second."""
        now = time.monotonic()
        if now < self._next_staging_look:
            return
        self._next_staging_look = now + 60
        try:
            stale = [p for p in self.dir.iterdir() if p.name.endswith(STAGING)]
        except OSError:
            return
        for path in stale:
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > 60 and _nobody_holds(path):
                    path.unlink()

    def taken(self, taken: Taken) -> None:
        """After `taken.events` are committed: remember the offsets, delete done files
        (those with damage are kept in DAMAGED_DIR)."""
        self._offsets.update(taken.offsets)
        for path in taken.finished:
            if path in taken.damaged:
                self._keep_damaged(path, taken.damaged[path])
            else:
                if path in taken.cut_short:
                    log.warning(
                        "spool file %s ends in a write cut short at byte %d (its process "
                        "died while writing: those clicks had not been answered)",
                        path, taken.cut_short[path],
                    )  # fmt: skip
                path.unlink(missing_ok=True)
            self._offsets.pop(path, None)

    def _keep_damaged(self, path: Path, stretches: list[tuple[int, int]]) -> None:
        skipped = sum(n for _, n in stretches)
        where = ", ".join(f"{n} at byte {at}" for at, n in stretches)
        folder = self.dir / DAMAGED_DIR
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            os.rename(path, folder / path.name)
            kept = f"the file is kept in {folder}"
        except OSError as e:
            self._kept_in_place.add(path)
            kept = f"the file is left where it is (cannot move it to {folder}: {e})"
        log.error(
            "spool file %s is damaged: %d bytes skipped (%s), every good record around "
            "them loaded; %s",
            path, skipped, where, kept,
        )  # fmt: skip
        metrics.instruments().spool_damaged_bytes.inc(skipped)
        metrics.instruments().spool_damaged_files.inc()


_LOGGED: set[Path] = set()


def _log_once(path: Path, error: OSError) -> None:
    if path not in _LOGGED:
        _LOGGED.add(path)
        log.error("cannot read spool file %s (%s); skipping it", path, error)


def _age(own: OwnFile) -> float:
    return time.monotonic() - own.opened


def _nobody_holds(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _scan(path: Path, start: int, live: bool = False) -> tuple[Scan, int]:
    """The records of `path` from `start` (a record's start, or the unused tail), and
    the bytes read. `live`: its writer holds it, so a zero at `start` is where the
    next record goes: nothing to read yet."""
    try:
        if live and not _starts_record(path, start):
            return Scan(), 0
        with path.open("rb") as f:
            f.seek(start)
            data = f.read()
    except FileNotFoundError:
        return Scan(), 0
    return (scan(data) if path.name.endswith(V2_SUFFIX) else scan_legacy(data)), len(data)


def _starts_record(path: Path, offset: int) -> bool:
    """Whether bytes follow `offset` (in a file with markers: not the unused zeros)."""
    with path.open("rb") as f:
        f.seek(offset)
        first = f.read(1)
    return first != b"" and (first != b"\0" or not path.name.endswith(V2_SUFFIX))


def _records_size(path: Path, probe: int = 64 * 1024) -> int:
    """The file's size without its unused (zero) tail, read from the end."""
    with path.open("rb") as f:
        end = os.fstat(f.fileno()).st_size
        if not path.name.endswith(V2_SUFFIX):
            return end
        while end > 0:
            start = max(0, end - probe)
            f.seek(start)
            kept = len(f.read(end - start).rstrip(b"\0"))
            if kept:
                return start + kept
            end = start
        return 0
