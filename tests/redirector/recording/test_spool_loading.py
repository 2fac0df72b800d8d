"""Workers' spool writers and the writer process's loader, together."""

from __future__ import annotations

import asyncio
import gc
import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from config import ClickSettings
from redirector import metrics
from redirector.links.tokens import Claims
from redirector.recording import spool_writer
from redirector.recording.bot_rules import BurstPolicy
from redirector.recording.event_reader import read_events
from redirector.recording.event_store import EventFilter, SqliteEventStore, StoreUnavailable
from redirector.recording.events import Event
from redirector.recording.hits import Hit, event_from_hit
from redirector.recording.spool import Spool, encode_hits
from redirector.recording.spool_loader import SpoolLoader
from redirector.recording.spool_writer import SpoolWriter

SALT = b"s" * 32


def hit(recipient: str, link: int = 0, address: str = "192.0.2.1", t: float = 1e9) -> Hit:
    claims = Claims("https://example.com/", "m", recipient, link, 0, key_id="k")
    return Hit(f"{t:020.6f}{recipient:0>8}", t, "click", "Mozilla/5.0 \udcff", address, claims)


class BreakableSpool(Spool):
    """Our own seam: a disk that refuses writes while `broken`."""

    broken = False

    def append_encoded(self, payload: bytes) -> None:
        if self.broken:
            raise OSError(28, "No space left on device")
        super().append_encoded(payload)


def stored(path: Path) -> list[tuple[str, int, str]]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.execute("SELECT recipient_id, bot, reasons FROM events ORDER BY id"))
    finally:
        conn.close()


def loader_for(tmp_path: Path, open_store: object = None) -> SpoolLoader:
    db = tmp_path / "trackway.db"
    return SpoolLoader(
        open_store or (lambda: SqliteEventStore(db)),  # type: ignore[arg-type]
        Spool(tmp_path),
        BurstPolicy(links=3, seconds=10),
        retry_seconds=0.01,
    )


async def test_answered_once_durable_then_loaded(tmp_path: Path) -> None:
    writer = SpoolWriter(Spool(tmp_path))
    writer.start()
    await asyncio.gather(*(writer.record(hit(f"r{i}")) for i in range(5)))
    assert len(list(Spool(tmp_path).read_all())) == 5  # durable before the answer
    loader = loader_for(tmp_path)
    assert loader.load() == 5
    assert [r[0] for r in stored(tmp_path / "trackway.db")] == [f"r{i}" for i in range(5)]
    await writer.close()
    loader.load_all()
    assert Spool(tmp_path).files() == []  # let go of and loaded: gone
    loader.close()


async def test_a_full_disk_holds_events_and_still_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_writer, "RETRY_SECONDS", 0.05)
    spool = BreakableSpool(tmp_path)
    writer = SpoolWriter(spool)
    writer.start()
    spool.broken = True
    await asyncio.wait_for(writer.record(hit("held")), 5)  # answered all the same
    assert list(Spool(tmp_path).read_all()) == []
    spool.broken = False
    for _ in range(100):  # no other click comes: the retry writes it
        if list(Spool(tmp_path).read_all()):
            break
        await asyncio.sleep(0.02)
    assert [e.recipient_id for e in Spool(tmp_path).read_all()] == ["held"]
    await writer.close()


def events_lost() -> float:
    value = metrics.instruments().registry.get_sample_value("trackway_events_lost_total")
    return value or 0.0


async def test_past_the_cap_the_oldest_held_events_are_dropped_and_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    one_batch = len(encode_hits([hit("r0")]))  # each click below is a batch of its own
    monkeypatch.setattr(spool_writer, "MAX_HELD_BYTES", 3 * one_batch + one_batch // 2)
    monkeypatch.setattr(spool_writer, "RETRY_SECONDS", 0.05)
    spool = BreakableSpool(tmp_path)
    writer = SpoolWriter(spool)
    writer.start()
    before = events_lost()
    spool.broken = True
    for i in range(8):
        await asyncio.wait_for(writer.record(hit(f"r{i}")), 5)  # answered all the same
    assert events_lost() == before + 5
    said = re.findall(r"refused writes too long: (\d+) events lost", caplog.text)
    assert sum(int(n) for n in said) == 5
    spool.broken = False
    for _ in range(100):
        if list(Spool(tmp_path).read_all()):
            break
        await asyncio.sleep(0.02)
    assert [e.recipient_id for e in Spool(tmp_path).read_all()] == ["r5", "r6", "r7"]
    await writer.close()
    assert events_lost() == before + 5


async def test_events_still_held_at_the_end_are_counted_lost(tmp_path: Path) -> None:
    spool = BreakableSpool(tmp_path)
    writer = SpoolWriter(spool)
    writer.start()
    before = events_lost()
    spool.broken = True
    await asyncio.wait_for(writer.record(hit("held")), 5)
    await writer.close()
    assert events_lost() == before + 1


class HangingSpool(Spool):
    """Our own seam: a disk whose writes hang until `go` is set."""

    go = threading.Event()

    def append_encoded(self, payload: bytes) -> None:
        self.go.wait(10)
        super().append_encoded(payload)


async def test_a_hanging_disk_answers_late_but_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spool_writer, "APPEND_SECONDS", 0.2)
    spool = HangingSpool(tmp_path)
    spool.go.clear()
    writer = SpoolWriter(spool)
    writer.start()
    started = time.monotonic()
    await asyncio.wait_for(writer.record(hit("slow")), 5)
    assert 0.2 <= time.monotonic() - started < 3
    spool.go.set()  # the disk comes back: the write it was doing completes
    await writer.close()
    assert [e.recipient_id for e in Spool(tmp_path).read_all()] == ["slow"]


def test_an_unavailable_database_leaves_events_in_the_spool(tmp_path: Path) -> None:
    writer = Spool(tmp_path)
    writer.append([])  # nothing: no file
    writer.append([event_from_hit(hit("a"), ClickSettings(), SALT)])
    writer.release()
    available = {"yes": False}

    def open_store() -> SqliteEventStore:
        if not available["yes"]:
            raise StoreUnavailable("read-only")
        return SqliteEventStore(tmp_path / "trackway.db")

    loader = loader_for(tmp_path, open_store)
    assert loader.load() == 0
    assert len(Spool(tmp_path).files()) == 1
    available["yes"] = True
    loader._next_try = 0.0
    assert loader.load() == 1
    assert Spool(tmp_path).files() == []
    loader.close()


def test_the_cyclic_collector_rests_during_a_batch_only(tmp_path: Path) -> None:
    seen: list[bool] = []

    class Watched(SqliteEventStore):
        def write_batch(self, *args: Any, **kwargs: Any) -> None:
            seen.append(gc.isenabled())
            super().write_batch(*args, **kwargs)

    writer = Spool(tmp_path)
    writer.append([event_from_hit(hit("a"), ClickSettings(), SALT)])
    writer.release()
    loader = loader_for(tmp_path, lambda: Watched(tmp_path / "trackway.db"))
    assert gc.isenabled()
    assert loader.load() == 1
    assert (seen, gc.isenabled()) == ([False], True)
    gc.disable()  # one that was off before stays off
    try:
        writer = Spool(tmp_path)
        writer.append([event_from_hit(hit("b"), ClickSettings(), SALT)])
        writer.release()
        assert loader.load() == 1
        assert not gc.isenabled()
    finally:
        gc.enable()
    loader.close()


def test_a_spool_caught_up_hours_later_keeps_its_bursts(tmp_path: Path) -> None:
    """The tracker forgets clients idle by the events' times, not the clock's: an old
    spool's burst over two batches is found however late it is loaded."""
    old, clicks = time.time() - 3600, ClickSettings()
    loader = loader_for(tmp_path)
    loader._loads = 99  # this load is one that forgets idle clients
    for links in ((0, 1), (2,)):
        writer = Spool(tmp_path)
        writer.append([event_from_hit(hit("r", i, t=old + i), clicks, SALT) for i in links])
        writer.release()
        assert loader.load() == len(links)
    rows = stored(tmp_path / "trackway.db")
    assert [(bot, reasons) for _, bot, reasons in rows] == [(1, "burst")] * 3
    loader.close()


def test_bursts_across_workers_and_an_event_the_store_refuses(tmp_path: Path) -> None:
    first, second = Spool(tmp_path), Spool(tmp_path)  # two workers' files
    clicks = ClickSettings()
    first.append([event_from_hit(hit("r", 0, t=1e9), clicks, SALT)])
    second.append([event_from_hit(hit("r", 1, t=1e9 + 1), clicks, SALT)])
    bad = Event("z" * 28, 1e9 + 2, "click", "k", "m", "r", 2**63, "u", "ua", None, "x")
    first.append([event_from_hit(hit("r", 2, t=1e9 + 2), clicks, SALT), bad])
    loader = loader_for(tmp_path)
    assert loader.load() == 4
    rows = stored(tmp_path / "trackway.db")
    assert len(rows) == 3  # the one out of range is left out, not the rest
    assert all(bot == 1 and "burst" in reasons for _, bot, reasons in rows)
    loader.close()


@pytest.mark.parametrize("agent", ["Mozilla/5.0 \udcff", "x\ud800y"])
def test_undecodable_agents_are_stored(tmp_path: Path, agent: str) -> None:
    event = event_from_hit(hit("r")._replace(user_agent=agent), ClickSettings(), SALT)
    store = SqliteEventStore(tmp_path / "t.db")
    try:
        store.write_batch([event])
        (back,) = store.query(EventFilter())
    finally:
        store.close()
    assert back.user_agent in ("Mozilla/5.0 \ufffd", "x?y")


async def test_spooled_hits_become_events_by_the_reader_s_settings(tmp_path: Path) -> None:
    writer = SpoolWriter(Spool(tmp_path))
    writer.start()
    await writer.record(hit("r", address="198.51.100.7"))
    await writer.close()
    full = ClickSettings(client_ip="full")
    (loaded,) = Spool(tmp_path, to_event=lambda h: event_from_hit(h, full, SALT)).read_all()
    assert loaded.client_ip == "198.51.100.7"
    assert (
        loaded.client_key
        == event_from_hit(hit("r", address="198.51.100.7"), full, SALT).client_key
    )
    (unknown,) = Spool(tmp_path).read_all()  # a reader without the settings keeps no address
    assert unknown.client_ip is None


def test_events_moved_by_the_loader_while_they_are_read_are_not_lost(tmp_path: Path) -> None:
    """`events export` reads the store and the spool: a batch the loader moves from one to
    the other between the two reads is found in one of them, never in neither."""
    writer = Spool(tmp_path)  # a worker that wrote these, then ended: the file is done
    writer.append_encoded(encode_hits([hit("r1"), hit("r2"), hit("r3")]))
    writer.release()
    spool = Spool(tmp_path)
    loader = loader_for(tmp_path)
    inner = SqliteEventStore(tmp_path / "trackway.db")

    class LoadedMeanwhile:
        """Our seam: the loader commits right after the store's snapshot was read."""

        def query(self, flt: EventFilter) -> list[Event]:
            found = inner.query(flt)
            loader.load_all()
            return found

    try:
        events = read_events(LoadedMeanwhile(), spool, EventFilter())  # type: ignore[arg-type]
        assert [e.recipient_id for e in events] == ["r1", "r2", "r3"]
        assert [e.recipient_id for e in inner.query(EventFilter())] == ["r1", "r2", "r3"]
    finally:
        loader.close()
        inner.close()
