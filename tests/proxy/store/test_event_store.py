"""The PostgreSQL event store on a real cluster: the same contract as SQLite's."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from config import Settings, StoreSettings
from proxy.data_folder import open_store
from proxy.store.event_store import PostgresEventStore
from proxy.store.partitions import month_of
from redirector.recording.burst_tracker import Remark
from redirector.recording.event_reader import read_stats
from redirector.recording.event_store import EventFilter, SqliteEventStore
from redirector.recording.events import Event, new_event_id
from redirector.recording.spool import Spool


def event(
    recipient: str, kind: str = "click", link: int = 0, bot: bool = False, t: float = 0.0
) -> Event:
    return Event(
        new_event_id(), t or time.time(), kind, "k", "m-1", recipient, link,
        f"https://example.com/{link}", "Mozilla/5.0 \udcff", None if bot else "192.0.2.1",
        "key-" + recipient, bot, ["scanner_ua"] if bot else [], "label" if link else None,
    )  # fmt: skip


@pytest.fixture
def store(postgres_url: str) -> PostgresEventStore:
    return PostgresEventStore(postgres_url)


def count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def loaded_minutes(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [int(r[0]) for r in conn.execute("SELECT DISTINCT minute FROM event_loads")]


def test_a_batch_loaded_twice_is_stored_once(store: PostgresEventStore, postgres_url: str) -> None:
    batch = [event(f"r{i}") for i in range(500)]
    store.write_batch(batch)
    store.write_batch([*batch[250:], event("new")])
    assert count(postgres_url) == 501
    found = store.query(EventFilter(limit=10_000))
    assert [e.id for e in found] == sorted(e.id for e in [*batch, *found[-1:]])
    # Read back as written (an undecodable header byte as U+FFFD, as in SQLite).
    first = found[0]
    assert first == Event(**{**batch[0].__dict__, "user_agent": "Mozilla/5.0 \ufffd"})
    store.close()


def test_a_nul_which_postgresql_cannot_hold_becomes_u_fffd(store: PostgresEventStore) -> None:
    odd = event("odd")
    odd.user_agent = "bad\x00agent"
    store.write_batch([event("fine"), odd])
    agents = {e.recipient_id: e.user_agent for e in store.query(EventFilter())}
    assert agents == {"fine": "Mozilla/5.0 \ufffd", "odd": "bad\ufffdagent"}
    store.close()


def test_query_filters_and_pages(store: PostgresEventStore) -> None:
    events = [event("a"), event("b", kind="open"), event("c", link=1), event("a", link=2)]
    store.write_batch(events)
    assert [e.recipient_id for e in store.query(EventFilter(recipient_id="a"))] == ["a", "a"]
    assert [e.kind for e in store.query(EventFilter(kind="open"))] == ["open"]
    page = store.query(EventFilter(limit=2))
    rest = store.query(EventFilter(after_id=page[-1].id))
    assert [e.id for e in page + rest] == [e.id for e in events]
    assert store.query(EventFilter(since=time.time() + 60)) == []
    assert [e.kind for e in store.recent(time.time() - 60)] == ["click", "click", "click"]
    store.close()


def test_remarks_mark_stored_events_as_a_burst(store: PostgresEventStore) -> None:
    first = event("r1")
    store.write_batch([first])
    store.write_batch([], [Remark("m-1", first.client_key, first.time - 1)])
    store.write_batch([], [Remark("m-1", first.client_key, first.time - 1)])  # once only
    (marked,) = store.query(EventFilter())
    assert (marked.bot, marked.reasons) == (True, ["burst"])
    store.close()


def test_stats_match_sqlite_with_the_spool(store: PostgresEventStore, tmp_path: Path) -> None:
    folder = tmp_path
    stored = [event("a"), event("a"), event("b", link=1), event("c", bot=True)]
    stored += [event("a", kind="open"), event("d", kind="open", bot=True)]
    spooled = [event("e", link=1), stored[0], event("f", kind="open")]
    sqlite = SqliteEventStore(folder / "trackway.db")
    for each in (store, sqlite):
        each.write_batch(stored)
    spool = Spool(folder)
    spool.append(spooled)
    ours, theirs = read_stats(store, spool, "m-1"), read_stats(sqlite, spool, "m-1")
    assert ours == theirs
    assert ours.opens == {"human_opens": 2, "bot_opens": 1, "unique_openers": 2}
    assert [(s.human_clicks, s.bot_clicks, s.unique_recipients) for s in ours.links] == [
        (2, 1, 1),
        (2, 0, 2),
    ]
    # The message view's days and bots' reasons too, cut at the same second.
    edge = [event("g", t=1_790_035_199.9996), event("h", t=1_790_035_200.0, bot=True)]
    for each in (store, sqlite):
        each.write_batch(edge)
    ours, theirs = (read_stats(s, spool, "m-1", by_day=True) for s in (store, sqlite))
    assert ours == theirs
    assert ours.days["2026-09-21"]["human_clicks"] == 1
    assert ours.days["2026-09-22"]["bot_clicks"] == 1
    assert ours.bot_reasons == {0: {"scanner_ua": 2}}
    spool.release()
    store.close()
    sqlite.close()


def test_months_get_partitions_and_retention_drops_old_ones(postgres_url: str) -> None:
    keeper = PostgresEventStore(postgres_url)  # retention_days 0: kept forever
    old = datetime(2025, 1, 15, tzinfo=UTC).timestamp()
    older = datetime(2024, 6, 1, tzinfo=UTC).timestamp()
    keeper.write_batch([event("old", t=old), event("older", t=older), event("now")])
    keeper.write_batch([event("old-too", t=old + 1)])
    assert {"events_2024_06", "events_2025_01", month_of(time.time()).name} == set(
        keeper.partitions()
    )
    keeper.retention_days = 30
    dropped = keeper.drop_expired(datetime(2025, 3, 5, tzinfo=UTC).timestamp())
    assert dropped == ["events_2024_06", "events_2025_01"]
    assert {e.recipient_id for e in keeper.query(EventFilter())} == {"now"}
    # Which loader stored which minute goes with its month.
    assert loaded_minutes(postgres_url) == [int(time.time() // 60)]
    keeper.close()

    # A store with retention drops what is past it as it writes (and hourly after).
    keeper = PostgresEventStore(postgres_url)
    keeper.write_batch([event("old", t=old)])
    keeper.close()
    pruning = PostgresEventStore(postgres_url, retention_days=30)
    pruning.write_batch([event("later")])
    assert {e.recipient_id for e in pruning.query(EventFilter())} == {"now", "later"}
    pruning.write_batch([event("old-again", t=old)])  # a late event: its month made anew
    assert "old-again" in {e.recipient_id for e in pruning.query(EventFilter())}
    pruning.close()


def test_two_servers_making_the_same_new_month_at_once(postgres_url: str) -> None:
    stores = [PostgresEventStore(postgres_url) for _ in range(2)]
    june = datetime(2031, 6, 1, tzinfo=UTC).timestamp()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def load(store: PostgresEventStore, name: str) -> None:
        start.wait()
        try:
            store.write_batch([event(f"{name}{i}", t=june + i) for i in range(100)])
        except BaseException as e:
            errors.append(e)

    threads = [
        threading.Thread(target=load, args=(store, name))
        for store, name in zip(stores, "ab", strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert count(postgres_url) == 200
    assert stores[0].partitions().count("events_2031_06") == 1
    for store in stores:
        store.close()


def test_the_settings_choose_the_store(postgres_url: str, tmp_path: Path) -> None:
    chosen = open_store(
        Settings(data=tmp_path, store=StoreSettings(url=postgres_url, retention_days=90))
    )
    assert isinstance(chosen, PostgresEventStore)
    assert chosen.retention_days == 90
    chosen.close()
    sqlite = open_store(Settings(data=tmp_path))
    assert isinstance(sqlite, SqliteEventStore)
    sqlite.close()
