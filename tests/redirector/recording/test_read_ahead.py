"""With a backlog, the loader reads the next batch while it writes one: every event is
loaded once, in batches, and a failed write drops what was read ahead."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from config import ClickSettings
from redirector.recording import spool_loader
from redirector.recording.burst_tracker import Remark
from redirector.recording.event_store import EventFilter, SqliteEventStore, StoreUnavailable
from redirector.recording.events import Event
from redirector.recording.hits import event_from_hit
from redirector.recording.spool import Spool
from tests.redirector.recording.test_spool_loading import SALT, hit, loader_for, stored


class FailingOnce(SqliteEventStore):
    """Our own seam: the first write fails as a database that went away does."""

    failed = False

    def write_batch(self, events: Sequence[Event], remarks: Sequence[Remark] = ()) -> None:
        if not FailingOnce.failed:
            FailingOnce.failed = True
            raise StoreUnavailable("gone for a moment")
        super().write_batch(events, remarks)


def spool_events(folder: Path, count: int) -> None:
    clicks = ClickSettings()
    for worker in range(2):  # two workers' files, interleaved in time
        spool = Spool(folder)
        for i in range(worker, count, 2):
            spool.append([event_from_hit(hit(f"r{i:04d}", t=1e9 + i), clicks, SALT)])
        spool.release()


def test_a_backlog_is_loaded_once_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_loader, "LOAD_LIMIT", 25)
    spool_events(tmp_path, 200)
    loader = loader_for(tmp_path)
    loaded = []
    while n := loader.load():
        loaded.append(n)
    loader.close()
    assert sum(loaded) == 200
    assert max(loaded) < 200  # in batches, each read while the one before was written
    rows = stored(tmp_path / "trackway.db")
    assert sorted(r[0] for r in rows) == [f"r{i:04d}" for i in range(200)]
    assert Spool(tmp_path).files() == []


def test_a_failed_write_drops_what_was_read_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_loader, "LOAD_LIMIT", 25)
    spool_events(tmp_path, 100)
    FailingOnce.failed = False
    loader = loader_for(tmp_path, lambda: FailingOnce(tmp_path / "trackway.db"))
    assert loader.load() == 0  # the database failed: nothing is lost, nothing taken
    loader._next_try = 0.0
    loader.load_all()
    loader.close()
    store = SqliteEventStore(tmp_path / "trackway.db")
    ids = [e.id for e in store.query(EventFilter(limit=1000))]
    store.close()
    assert len(ids) == len(set(ids)) == 100
