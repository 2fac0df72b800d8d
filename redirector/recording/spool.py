"""The spool: append-only files in which recorded events are durable before the database.

Each process that records events appends to a file of its own in `spool/`, a record
for each batch: `write`, then `fdatasync`, which is the commit a click's answer waits
for. No lock is shared on that path, so workers never wait for each other or for the
database. A loader (the writer process of `serve`) moves what the files hold into the
database behind them (`take`, commit, `taken`), retrying until the database takes them.

A process holds an exclusive `flock` on its current file. A file that nobody holds
(its writer moved on to a new file, or died) is deleted once it is loaded. Files are
locked before they get their name, so an empty new file is never mistaken for a dead
one. Loading is idempotent (event ids), so a file loaded twice (a crash between the
commit and the bookkeeping) records nothing twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import marshal
import os
import struct
import time
import typing
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from config import ClickSettings
from config.datafolder import ensure_data_dir
from redirector.links.tokens import Claims
from redirector.recording.events import Event
from redirector.recording.hits import Hit, event_from_hit

log = logging.getLogger("trackway.spool")
SPOOL_DIR = "spool"
SUFFIX = ".spool"
_STAGING = ".new"  # a file being made: locked, then renamed to its name
ROTATE_BYTES = 1024 * 1024  # small: readers of the spool (exports, the API) read it whole
ROTATE_SECONDS = 10.0


# A record: payload length and CRC-32 (little endian), then the payload, in `marshal`
# format 4: (kind, rows). Kind "h2": hits from workers (the raw facts of each click:
# turning them into events is the loader's work, off the clicks' path), each the hit's
# values with its claims as a plain tuple; "e2": events' values (`Event.as_values`).
# marshal because a worker encodes every click: it is ten times cheaper than JSON here
# (measured: 0.3 against 3 µs an event), and it only ever reads bytes whose CRC says
# this code wrote them. It takes plain tuples only, hence the claims' `tuple()`.
_HEADER = struct.Struct("<II")
_MARSHAL_VERSION = 4
_HITS, _EVENTS = "h2", "e2"
# The kinds of the version before labels, still read: a spool written before an upgrade
# is loaded after it. "h": 11 values (`_hit_v1`); "e": every event field but `label`.
_HITS_V1, _EVENTS_V1 = "h", "e"


def _record(kind: str, rows: list[tuple[Any, ...]]) -> bytes:
    payload = marshal.dumps((kind, rows), _MARSHAL_VERSION)
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def encode(events: Sequence[Event]) -> bytes:
    return _record(_EVENTS, [e.as_values() for e in events])


def encode_hits(hits: Sequence[Hit]) -> bytes:
    return _record(_HITS, [(*hit[:-1], tuple(hit.claims)) for hit in hits])


def settings_free_event(hit: Hit) -> Event:
    """A hit as an event for a reader that knows no settings: no address kept."""
    return event_from_hit(hit, _NO_ADDRESS, b"")


_NO_ADDRESS = ClickSettings(client_ip="none")


@dataclass
class Taken:
    """What one `take` read: its events, and where each file's reading stopped."""

    events: list[Event] = field(default_factory=list)
    offsets: dict[Path, int] = field(default_factory=dict)
    finished: list[Path] = field(default_factory=list)  # read to the end and held by no one


class _OwnFile:
    def __init__(self, directory: Path) -> None:
        name = f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(3).hex()}"
        staging = directory / f".{name}{_STAGING}"
        self.fd = os.open(staging, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            self.path = directory / f"{name}{SUFFIX}"
            os.rename(staging, self.path)
        except BaseException:
            os.close(self.fd)
            staging.unlink(missing_ok=True)
            raise
        self.size = 0
        self.opened = time.monotonic()

    def write(self, payload: bytes, sync: bool) -> None:
        view = memoryview(payload)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        if sync:
            os.fdatasync(self.fd)
        self.size += len(payload)

    def close(self) -> None:
        os.close(self.fd)  # releases the lock


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
        self._own: _OwnFile | None = None
        self._offsets: dict[Path, int] = {}  # how far this process has loaded each file
        self._next_staging_look = 0.0

    # -- writing -------------------------------------------------------------------

    def append(self, events: Sequence[Event]) -> None:
        if events:
            self.append_encoded(encode(events))

    def append_encoded(self, payload: bytes) -> None:
        """Durable on return (or OSError). Not thread-safe: one appender per Spool."""
        own = self._own
        if own is None or own.size >= ROTATE_BYTES or _age(own) >= ROTATE_SECONDS:
            self.dir.mkdir(mode=0o700, exist_ok=True)
            fresh = _OwnFile(self.dir)
            self.release()
            own = self._own = fresh
        try:
            own.write(payload, self.sync)
        except BaseException:
            # Part of the record may be in the file: nothing may follow it there.
            self.release()
            raise

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
        """Whether a file holds bytes this process has not loaded."""
        for path in self.files():
            try:
                if path.stat().st_size > self._offsets.get(path, 0):
                    return True
            except FileNotFoundError:
                continue
        return False

    def size(self) -> int:
        """Bytes in the spool files."""
        total = 0
        for path in self.files():
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def read_all(self) -> Iterator[Event]:
        """Every event in the files, loaded or not (readers merge them by id)."""
        for path in self.files():
            try:
                events = _read_records(path, 0, self.to_event)[0]
            except OSError as e:
                _log_once(path, e)
                continue
            yield from events

    def count(self) -> int:
        """Events not yet loaded by this process."""
        total = 0
        for path in self.files():
            try:
                total += len(_read_records(path, self._offsets.get(path, 0), self.to_event)[0])
            except OSError as e:
                _log_once(path, e)
        return total

    # -- loading -------------------------------------------------------------------

    def take(self, limit: int = 50_000) -> Taken:
        """Events not loaded yet, oldest files first, at most about `limit`."""
        taken = Taken()
        own = self._own.path if self._own is not None else None
        for path in self.files():
            if len(taken.events) >= limit:
                break
            start = self._offsets.get(path, 0)
            try:
                # Checked before reading: a file nobody holds gets no more writes.
                done = path != own and _nobody_holds(path)
                events, end = _read_records(path, start, self.to_event, whole=done)
            except OSError as e:  # one file this process cannot read holds up no other
                _log_once(path, e)
                continue
            taken.events += events
            taken.offsets[path] = end
            if done:
                taken.finished.append(path)
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
            stale = [p for p in self.dir.iterdir() if p.name.endswith(_STAGING)]
        except OSError:
            return
        for path in stale:
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > 60 and _nobody_holds(path):
                    path.unlink()

    def taken(self, taken: Taken) -> None:
        """After `taken.events` are committed: remember the offsets, delete done files."""
        self._offsets.update(taken.offsets)
        for path in taken.finished:
            path.unlink(missing_ok=True)
            self._offsets.pop(path, None)


_LOGGED: set[Path] = set()


def _log_once(path: Path, error: OSError) -> None:
    if path not in _LOGGED:
        _LOGGED.add(path)
        log.error("cannot read spool file %s (%s); skipping it", path, error)


def _age(own: _OwnFile) -> float:
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


def _read_records(
    path: Path, start: int, to_event: Callable[[Hit], Event], whole: bool = False
) -> tuple[list[Event], int]:
    """The events of the complete records from `start`, and the offset after them.

    A file's writer may be mid-append: a last record cut short waits for the next
    read, unless the file is `whole` (its writer is gone, so a crash cut it short).
    """
    try:
        with path.open("rb") as f:
            f.seek(start)
            data = f.read()
    except FileNotFoundError:
        return [], start
    events: list[Event] = []
    pos = 0
    while len(data) - pos >= _HEADER.size:
        length, crc = _HEADER.unpack_from(data, pos)
        end = pos + _HEADER.size + length
        if end > len(data):
            break  # on its way, or cut short
        payload = data[pos + _HEADER.size : end]
        if length == 0 or zlib.crc32(payload) != crc:
            log.error("spool file %s is damaged at byte %d; skipping its rest", path, start + pos)
            return events, start + len(data)
        try:
            kind, rows = marshal.loads(payload)  # noqa: S302 - our record: its CRC matched
            events += _events(kind, rows, to_event)
        except (ValueError, TypeError, EOFError):
            log.error("spool file %s holds an unreadable batch at byte %d", path, start + pos)
        pos = end
    return events, start + (len(data) if whole else pos)


def _events(kind: str, rows: list[Any], to_event: Callable[[Hit], Event]) -> list[Event]:
    """The events of one record's rows; TypeError or ValueError if not of that kind."""
    if kind == _HITS:
        return [to_event(_hit(values)) for values in rows]
    if kind == _EVENTS:
        return [Event.from_values(values) for values in rows]
    if kind == _HITS_V1:
        return [to_event(_hit_v1(values)) for values in rows]
    if kind == _EVENTS_V1:
        return [Event.from_values((*values, None)) for values in rows]
    raise ValueError(kind)


def _hit(values: tuple[Any, ...]) -> Hit:
    *request, claims = values
    return _typed(Hit, (*request, _typed(Claims, claims)))


def _hit_v1(values: tuple[Any, ...]) -> Hit:
    """A hit as the version before labels wrote it: the claims' fields in its own."""
    (event_id, at, kind, key_id, message_id, recipient_id, link_index, url, sent_at,
     user_agent, address) = values  # fmt: skip
    # No label then, and token version 1, the only one there was.
    claims = (url, message_id, recipient_id, link_index, sent_at, None, key_id, 1)
    return _hit((event_id, at, kind, user_agent, address, claims))


_T = TypeVar("_T", Hit, Claims)
# Each field's type, from the declaration.
_TYPES: dict[type, tuple[Any, ...]] = {
    cls: tuple(typing.get_type_hints(cls).values()) for cls in (Hit, Claims)
}


def _typed(cls: type[_T], values: tuple[Any, ...]) -> _T:
    """`cls` of exactly these values, each of its field's type; TypeError if not."""
    if len(values) != len(cls._fields):
        raise TypeError(f"not a {cls.__name__}")
    made = cls(*values)
    for value, kind in zip(made, _TYPES[cls], strict=True):
        if not isinstance(value, kind) and not (kind is float and isinstance(value, int)):
            raise TypeError(f"{value!r} is not {kind}")
    return made
