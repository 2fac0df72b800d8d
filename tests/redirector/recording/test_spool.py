"""The spool files: durable appends, loading behind them, and what a crash leaves."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from redirector.recording.events import Event
from redirector.recording.spool import RESERVE_BYTES, Spool, encode
from redirector.recording.spool import folder as spool_folder


def event(recipient: str, link: int = 0) -> Event:
    return Event(
        f"{recipient:0>28}", 1_700_000_000.5, "click", "k", "m", recipient, link,
        "https://example.com/é", "agent \udcff", None, "ck",
    )  # fmt: skip


def recipients(events: list[Event]) -> list[str]:
    return [e.recipient_id for e in events]


def test_appended_events_round_trip_and_load_once(tmp_path: Path) -> None:
    writer, loader = Spool(tmp_path), Spool(tmp_path)
    writer.append([event("a"), event("b")])
    writer.append([event("c")])
    assert list(writer.read_all()) == [event("a"), event("b"), event("c")]
    (path,) = writer.files()
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)

    taken = loader.take()
    assert recipients(taken.events) == ["a", "b", "c"]
    assert taken.finished == []  # its writer holds it: not to be deleted
    loader.taken(taken)
    assert recipients(loader.take().events) == []
    assert not loader.pending()

    writer.append([event("d")])
    assert recipients(loader.take().events) == ["d"]  # only what is new


def test_a_file_is_deleted_once_loaded_and_let_go(tmp_path: Path) -> None:
    writer, loader = Spool(tmp_path), Spool(tmp_path)
    writer.append([event("a")])
    loader.taken(loader.take())
    assert writer.files()
    writer.release()
    taken = loader.take()
    assert taken.events == []  # loaded already
    loader.taken(taken)
    assert writer.files() == []
    writer.append([event("b")])  # a new file for new events
    assert recipients(loader.take().events) == ["b"]


def test_nothing_is_taken_from_a_batch_not_committed(tmp_path: Path) -> None:
    writer, loader = Spool(tmp_path), Spool(tmp_path)
    writer.append([event("a")])
    writer.release()
    loader.take()  # the commit failed: `taken` never called
    assert recipients(loader.take().events) == ["a"]
    assert writer.files()


def test_files_rotate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool_folder, "ROTATE_BYTES", 1)
    writer, loader = Spool(tmp_path), Spool(tmp_path)
    for name in "abc":
        writer.append([event(name)])
    assert len(writer.files()) == 3
    loader.taken(loader.take())
    assert len(writer.files()) == 1  # the two it let go of are gone
    assert recipients(list(writer.read_all())) == ["c"]


def test_a_cut_short_record_waits_while_its_writer_lives(tmp_path: Path) -> None:
    writer, loader = Spool(tmp_path), Spool(tmp_path)
    writer.append([event("a")])
    assert writer._own is not None
    fd, end = writer._own.fd, writer._own.size
    record = encode([event("b")])
    os.pwrite(fd, record[:-3], end)  # as a reader may see an append in progress
    taken = loader.take()
    assert recipients(taken.events) == ["a"]
    loader.taken(taken)
    os.pwrite(fd, record[-3:], end + len(record) - 3)
    assert recipients(loader.take().events) == ["b"]


def test_a_crash_mid_append_loses_only_the_unfinished_batch(tmp_path: Path) -> None:
    # A process that appends, starts another append and dies (SIGKILL) before it ends.
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r})
        from redirector.recording import spool as s
        from tests.redirector.recording.test_spool import event
        spool = s.Spool(__import__("pathlib").Path({str(tmp_path)!r}))
        spool.append([event("kept")])
        record = s.encode([event("lost")])
        os.pwrite(spool._own.fd, record[: len(record) // 2], spool._own.size)
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    loader = Spool(tmp_path)
    taken = loader.take()
    assert recipients(taken.events) == ["kept"]
    assert len(taken.finished) == 1  # its writer is gone
    assert list(taken.cut_short.values()) == [len(encode([event("kept")]))]
    assert taken.damaged == {}  # a write cut short is not damage: not kept
    loader.taken(taken)
    assert loader.files() == []
    assert not (tmp_path / "spool" / "damaged").exists()


def test_a_file_of_a_live_process_is_never_deleted(tmp_path: Path) -> None:
    writer, loader = Spool(tmp_path), Spool(tmp_path)
    writer.append([event("a")])
    (path,) = writer.files()
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the writer's lock
    finally:
        os.close(fd)
    for _ in range(3):
        loader.taken(loader.take())
    assert path.exists()


def test_a_failed_append_leaves_later_appends_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = Spool(tmp_path)
    writer.append([event("a")])
    real_pwrite = os.pwrite

    def short_then_full_disk(fd: int, data: bytes | memoryview, offset: int) -> int:
        monkeypatch.setattr(os, "pwrite", fail)
        return real_pwrite(fd, bytes(data)[:5], offset)  # part of the record, then no space

    def fail(fd: int, data: bytes | memoryview, offset: int) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "pwrite", short_then_full_disk)
    with pytest.raises(OSError, match="No space"):
        writer.append([event("lost")])
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    writer.append([event("c")])
    assert recipients(list(Spool(tmp_path).read_all())) == ["a", "c"]


def test_an_unreadable_file_holds_up_no_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = Spool(tmp_path), Spool(tmp_path)
    first.append([event("a")])
    second.append([event("b")])
    assert second._own is not None
    bad = str(second._own.path)  # as if another user's, 0600
    real_os_open, real_path_open = os.open, Path.open

    def os_open(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path) == bad:
            raise PermissionError(13, "Permission denied")
        return real_os_open(path, *args, **kwargs)

    def path_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if str(self) == bad:
            raise PermissionError(13, "Permission denied")
        return real_path_open(self, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(Path, "open", path_open)
    loader = Spool(tmp_path)
    assert recipients(loader.take().events) == ["a"]
    assert recipients(list(loader.read_all())) == ["a"]


def test_space_is_reserved_ahead_and_given_back(tmp_path: Path) -> None:
    writer = Spool(tmp_path)
    writer.append([event("a")])
    (path,) = writer.files()
    assert writer._own is not None
    written = writer._own.size
    assert path.stat().st_size == RESERVE_BYTES  # reserved when made
    assert path.stat().st_blocks * 512 >= RESERVE_BYTES  # really allocated, not a hole
    assert writer.size() == written  # the reserved zeros are no records
    big = [event(f"r{i}") for i in range(RESERVE_BYTES // 2 // len(encode([event("x")])) + 1)]
    writer.append(big)  # past half the reservation: more is reserved ahead
    assert path.stat().st_size >= writer._own.size + RESERVE_BYTES // 2
    writer.release()
    assert path.stat().st_size == Spool(tmp_path).size()  # given back once let go of
    assert len(list(Spool(tmp_path).read_all())) == 1 + len(big)
