"""The file a process appends its records to: locked, with disk space reserved ahead.

The space is reserved (`posix_fallocate`) when the file is made and kept ahead of its
end as it grows, so that a write into it cannot fail for want of space (on ext4, xfs,
tmpfs; copy-on-write filesystems promise less): a disk that fills up shows first as a
reservation that fails, while the writes still have room.
The file is written at its end (`pwrite`, not `O_APPEND`: the reserved zeros lie after
it) and the unused reservation is given back when the process lets go of the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

SUFFIX = ".spool"
V2_SUFFIX = ".v2" + SUFFIX  # records with markers (`records.py`); plain SUFFIX: before
STAGING = ".new"  # a file being made: locked, then renamed to its name
RESERVE_BYTES = 1024 * 1024  # reserved when a file is made, and kept ahead of its end


class OwnFile:
    def __init__(self, directory: Path, *, must_reserve: bool) -> None:
        """A new file, named once it is locked (so that an empty file is never taken
        for a dead one). `must_reserve`: OSError if the space cannot be reserved, else
        the file is made all the same and `reserve_error` says why it has none."""
        name = f"{time.time_ns():020d}-{os.getpid()}-{os.urandom(3).hex()}"
        staging = directory / f".{name}{STAGING}"
        self.fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.size = 0  # bytes of records
        self.reserved = 0  # bytes the file holds, records and reservation
        self.reserve_error: OSError | None = None
        self.broken = False  # a failed write left it in a state not to write after
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            try:
                self._reserve(RESERVE_BYTES)
            except OSError as e:
                if must_reserve:
                    raise
                self.reserve_error = e
            self.path = directory / f"{name}{V2_SUFFIX}"
            os.rename(staging, self.path)
        except BaseException:
            os.close(self.fd)
            staging.unlink(missing_ok=True)
            raise
        self.opened = time.monotonic()

    def write(self, payload: bytes, sync: bool) -> None:
        """Durable on return (`sync`), or OSError and the file as it was before."""
        view = memoryview(payload)
        offset = self.size
        try:
            while view:
                written = os.pwrite(self.fd, view, offset)
                if written == 0:
                    raise OSError("the disk took no bytes")
                view, offset = view[written:], offset + written
        except BaseException:
            # Part of the record may be in the file: cut it off, so that the next write
            # starts where this one did (and nothing follows a torn record).
            try:
                os.ftruncate(self.fd, self.size)
                self.reserved = self.size
            except OSError:
                self.broken = True
            raise
        if sync:
            try:
                os.fdatasync(self.fd)
            except BaseException:
                # A reader may have taken the record already: nothing is written here
                # again (its offset would point into the next record); the writer
                # keeps the batch and writes it to a new file (events have ids).
                self.broken = True
                raise
        self.size = offset

    @property
    def reserved_ahead(self) -> int:
        return max(0, self.reserved - self.size)

    def needs_reserve(self) -> bool:
        return self.reserved_ahead < RESERVE_BYTES // 2

    def reserve_ahead(self) -> None:
        """RESERVE_BYTES ahead of the end again; OSError if the disk has not the room."""
        self._reserve(self.size + RESERVE_BYTES)

    def _reserve(self, length: int) -> None:
        try:
            os.posix_fallocate(self.fd, 0, length)
        finally:  # a reservation that failed may have had part of the room
            self.reserved = max(self.reserved, os.fstat(self.fd).st_size)

    def close(self) -> None:
        """Give back the reservation not used, then the file (and its lock)."""
        with contextlib.suppress(OSError):
            if self.reserved > self.size:
                os.ftruncate(self.fd, self.size)
        os.close(self.fd)
