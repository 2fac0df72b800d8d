"""The append-only spool: where events go when the database cannot take them.

One JSON object a line in `spool.jsonl`. Appends and the hand-over to replay take one
lock shared by every process of the data folder, so no append lands in a file that a
replay has already read. Replay renames the file, inserts its events (ids make that
idempotent) and deletes it only once they are committed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from config.datafolder import ensure_data_dir, file_lock
from redirector.event_store import EventStore
from redirector.events import Event

SPOOL_FILE = "spool.jsonl"
_REPLAYING_PREFIX = "spool.replaying."
_LOCK = ".spool.lock"


class Spool:
    def __init__(self, data_dir: Path) -> None:
        self.dir = ensure_data_dir(data_dir)
        self.path = data_dir / SPOOL_FILE

    def append(self, events: list[Event]) -> None:
        payload = "".join(json.dumps(e.as_row(), separators=(",", ":")) + "\n" for e in events)
        with file_lock(self.dir / _LOCK):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, payload.encode("utf-8", "surrogatepass"))
                os.fsync(fd)
            finally:
                os.close(fd)

    def files(self) -> list[Path]:
        replaying = sorted(self.dir.glob(_REPLAYING_PREFIX + "*"))
        return [*replaying, self.path] if self.path.exists() else replaying

    def pending(self) -> bool:
        return bool(self.files())

    def read_all(self) -> Iterator[Event]:
        for path in self.files():
            yield from _read(path)

    def count(self) -> int:
        total = 0
        for path in self.files():
            try:
                with path.open("rb") as f:
                    total += sum(1 for line in f if line.strip())
            except FileNotFoundError:
                continue
        return total

    def replay(self, store: EventStore) -> int:
        """Move spooled events into `store`; raises StoreUnavailable if it still fails."""
        with file_lock(self.dir / _LOCK):
            if self.path.exists():
                self.path.rename(self.dir / f"{_REPLAYING_PREFIX}{time.time_ns()}.jsonl")
        moved = 0
        for path in sorted(self.dir.glob(_REPLAYING_PREFIX + "*")):
            moved += store.insert_missing(list(_read(path)))
            path.unlink(missing_ok=True)
        return moved


def _read(path: Path) -> Iterator[Event]:
    try:
        text = path.read_bytes().decode("utf-8", "surrogatepass")
    except FileNotFoundError:
        return
    for line in text.splitlines():
        # A line cut short by a crash mid-append is the only thing that fails to parse.
        try:
            yield Event.from_row(json.loads(line))
        except (ValueError, KeyError, TypeError):
            continue
