"""Damage in spool files: every good record around it loads, the bad bytes are counted
and logged, and the file is kept in `spool/damaged/` instead of being deleted."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from redirector import metrics
from redirector.recording.bot_rules import BurstPolicy
from redirector.recording.event_store import EventFilter, SqliteEventStore
from redirector.recording.spool import Spool
from redirector.recording.spool_loader import SpoolLoader
from tests.redirector.recording.test_spool import event, recipients

RECORDS = 9
MIDDLE = 4


def written_file(data: Path, count: int = RECORDS) -> tuple[Path, list[int]]:
    """A file of `count` one-event records (r0, r1 …) its writer let go of, and where
    each record starts."""
    writer = Spool(data)
    starts = []
    for i in range(count):
        starts.append(0 if writer._own is None else writer._own.size)
        writer.append([event(f"r{i}")])
    writer.release()
    (path,) = writer.files()
    return path, [*starts, path.stat().st_size]


def damage(path: Path, at: int, new: bytes) -> bytes:
    """Overwrite bytes at `at`; what the file held before."""
    before = path.read_bytes()
    path.write_bytes(before[:at] + new + before[at + len(new) :])
    return before


def load(data: Path) -> list[str]:
    """Load the spool into the database as `serve`'s writer does; its recipients."""
    db = data / "trackway.db"
    loader = SpoolLoader(lambda: SqliteEventStore(db), Spool(data), BurstPolicy(3, 10), 0.01)
    loader.load_all()
    loader.close()
    store = SqliteEventStore(db)
    try:
        return [e.recipient_id for e in store.query(EventFilter())]
    finally:
        store.close()


def counted(name: str) -> float:
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    return 0.0


def all_but(index: int) -> list[str]:
    return [f"r{i}" for i in range(RECORDS) if i != index]


def test_a_flipped_byte_loses_its_record_only_and_the_file_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, starts = written_file(tmp_path)
    flip_at = (starts[MIDDLE] + starts[MIDDLE + 1]) // 2
    original = damage(path, flip_at, bytes([path.read_bytes()[flip_at] ^ 0x01]))
    skipped_before = counted("trackway_spool_damaged_bytes_total")
    files_before = counted("trackway_spool_damaged_files_total")

    with caplog.at_level(logging.INFO, "trackway"):
        assert load(tmp_path) == all_but(MIDDLE)

    kept = tmp_path / "spool" / "damaged" / path.name
    assert kept.read_bytes()[:flip_at] == original[:flip_at]  # kept as it was, not deleted
    assert Spool(tmp_path).files() == []
    record_size = starts[MIDDLE + 1] - starts[MIDDLE]
    assert counted("trackway_spool_damaged_bytes_total") - skipped_before == record_size
    assert counted("trackway_spool_damaged_files_total") - files_before == 1
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert path.name in line
    assert f"{record_size} bytes skipped" in line
    assert f"at byte {starts[MIDDLE]}" in line


@pytest.mark.parametrize(
    "length",
    [b"\xff\xff\xff\x7f", b"\x00\x00\x00\x00", b"\x05\x00\x00\x00", b"\x00\x00\x10\x00"],
    ids=["huge", "zero", "short", "past-the-end"],
)
def test_a_damaged_length_field_loses_its_record_only(tmp_path: Path, length: bytes) -> None:
    path, starts = written_file(tmp_path)
    damage(path, starts[MIDDLE] + 4, length)  # the length follows the record's marker
    assert load(tmp_path) == all_but(MIDDLE)
    assert (tmp_path / "spool" / "damaged" / path.name).exists()


def test_damage_in_the_last_record_is_damage_too(tmp_path: Path) -> None:
    path, starts = written_file(tmp_path)
    flip_at = starts[-1] - 6  # in the payload of the last record (before its end marker)
    damage(path, flip_at, bytes([path.read_bytes()[flip_at] ^ 0x80]))
    assert load(tmp_path) == all_but(RECORDS - 1)
    assert (tmp_path / "spool" / "damaged" / path.name).exists()


def test_a_damaged_live_file_gives_what_is_before_the_damage_until_let_go(
    tmp_path: Path,
) -> None:
    writer, loader = Spool(tmp_path), Spool(tmp_path)
    for name in ("a", "b", "c"):
        writer.append([event(name)])
    (path,) = writer.files()
    assert writer._own is not None
    second = len(path.read_bytes().rstrip(b"\0")) // 3
    at = second + 20
    damage(path, at, bytes([path.read_bytes()[at] ^ 0xFF]))  # or a write in progress
    taken = loader.take()
    assert recipients(taken.events) == ["a"]  # the rest may still be on its way
    loader.taken(taken)
    writer.release()
    taken = loader.take()
    assert recipients(taken.events) == ["c"]
    loader.taken(taken)
    assert (tmp_path / "spool" / "damaged" / path.name).exists()


def test_a_writer_killed_leaves_its_reserved_zeros_which_are_not_damage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r})
        from pathlib import Path
        from redirector.recording.spool import Spool
        from tests.redirector.recording.test_spool import event
        spool = Spool(Path({str(tmp_path)!r}))
        for name in ("a", "b"):
            spool.append([event(name)])
        os._exit(0)  # as SIGKILL: the reservation is never given back
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    (path,) = Spool(tmp_path).files()
    data = path.read_bytes()
    assert data.endswith(b"\0" * 1024)  # the reserved zeros
    assert len(data) > 4096
    assert Spool(tmp_path).size() == len(data.rstrip(b"\0"))  # records only
    with caplog.at_level(logging.INFO, "trackway"):
        assert load(tmp_path) == ["a", "b"]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert Spool(tmp_path).files() == []
    assert not (tmp_path / "spool" / "damaged").exists()


def test_a_damaged_file_of_the_earlier_version_is_kept_too(tmp_path: Path) -> None:
    from tests.redirector.recording.test_upgrades import OLD_EVENT, old_record, spool_file

    second = (*OLD_EVENT[:5], "r-second", *OLD_EVENT[6:])
    spool_file(tmp_path, old_record("e", [OLD_EVENT]), old_record("e", [second]))
    (path,) = Spool(tmp_path).files()
    damage(path, len(path.read_bytes()) - 2, b"\x00\x00")
    assert load(tmp_path) == ["r-old"]  # no markers to find the next record by
    assert (tmp_path / "spool" / "damaged" / path.name).exists()
