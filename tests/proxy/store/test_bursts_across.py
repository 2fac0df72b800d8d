"""Bursts across servers in the PostgreSQL store: each server's loader knows only its
own events, so the store looks up the stored hits of a batch's clients, any server's."""

from __future__ import annotations

import time

import psycopg

from proxy.store.event_store import PostgresEventStore
from redirector.recording.bot_rules import BurstPolicy
from redirector.recording.burst_tracker import MAX_HITS_PER_CLIENT
from redirector.recording.events import Event, new_event_id

POLICY = BurstPolicy(3, 10)


def hit(client: str, link: int, t: float, kind: str = "click") -> Event:
    return Event(
        new_event_id(), t, kind, "k", "m", f"rcpt-{client}", link, f"https://example.com/{link}",
        "Mozilla/5.0", None, f"client-{client}",
    )  # fmt: skip


def marks(url: str) -> dict[tuple[str, int], tuple[int, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT client_key, link_index, bot, reasons FROM events")
        return {(str(r[0]), int(r[1])): (int(r[2]), str(r[3])) for r in rows}


def test_a_burst_over_two_servers_batches_is_marked_on_both_sides(postgres_url: str) -> None:
    one = PostgresEventStore(postgres_url, burst=POLICY)
    two = PostgresEventStore(postgres_url, burst=POLICY)
    now = time.time()
    one.write_batch([hit("a", 0, now), hit("calm", 0, now)])
    two.write_batch([hit("a", 1, now + 1), hit("calm", 1, now + 1)])
    one.write_batch([hit("a", 2, now + 2), hit("late", 2, now + 30)])
    two.write_batch([hit("calm", 2, now + 30)])  # out of the window: no burst
    found = marks(postgres_url)
    assert [found[("client-a", link)] for link in range(3)] == [(1, "burst")] * 3
    assert {v for k, v in found.items() if k[0] != "client-a"} == {(0, "")}
    one.close()
    two.close()


def test_a_busy_client_is_looked_up_by_its_newest_hits(postgres_url: str) -> None:
    """Behind a gateway, one client has thousands of hits: the lookup reads as many as
    a tracker keeps, still enough to find a burst with them."""
    one = PostgresEventStore(postgres_url, burst=POLICY)
    two = PostgresEventStore(postgres_url, burst=POLICY)
    now = time.time()
    one.write_batch([hit("gw", 0, now + i / 1000) for i in range(MAX_HITS_PER_CLIENT * 3)])
    one.write_batch([hit("gw", 1, now + 1)])  # two links so far: no burst
    assert {v for v in marks(postgres_url).values()} == {(0, "")}
    two.write_batch([hit("gw", 2, now + 2)])  # the third, on the other server
    found = marks(postgres_url)
    assert found[("client-gw", 2)] == (1, "burst")
    assert found[("client-gw", 1)] == (1, "burst")
    one.close()
    two.close()


def test_a_restarted_server_finds_bursts_with_what_it_stored_before(postgres_url: str) -> None:
    """A store looks clients up only where another one stored events near the batch;
    the same server after a restart is another one (its tracker starts empty)."""
    before = PostgresEventStore(postgres_url, burst=POLICY)
    now = time.time()
    before.write_batch([hit("a", 0, now), hit("a", 1, now + 1)])
    before.close()
    after = PostgresEventStore(postgres_url, burst=POLICY)
    after.write_batch([hit("a", 2, now + 2)])
    assert [marks(postgres_url)[("client-a", link)] for link in range(3)] == [(1, "burst")] * 3
    after.close()


def test_alone_a_store_leaves_bursts_to_the_loaders_tracker(postgres_url: str) -> None:
    """No lookup when the batch's minutes hold only this store's events: its own hits
    are its loader's burst tracker's to see (which marks them in the batch)."""
    alone = PostgresEventStore(postgres_url, burst=POLICY)
    now = time.time()
    alone.write_batch([hit("a", 0, now), hit("a", 1, now + 1)])
    alone.write_batch([hit("a", 2, now + 2)])
    assert {v for v in marks(postgres_url).values()} == {(0, "")}
    alone.close()


def test_a_nul_or_a_lone_surrogate_in_a_looked_up_client(postgres_url: str) -> None:
    """PostgreSQL's text holds neither: the lookup asks for them as they are stored."""
    one = PostgresEventStore(postgres_url, burst=POLICY)
    two = PostgresEventStore(postgres_url, burst=POLICY)
    now = time.time()
    one.write_batch([hit("a", 0, now), hit("a", 1, now + 1)])
    odd = [hit("b\x00", 0, now + 2), hit("c\udce9", 0, now + 2)]
    for event in odd:
        event.message_id = "m\x00\udce9"
    two.write_batch([hit("a", 2, now + 2), *odd])
    found = marks(postgres_url)
    assert [found[("client-a", link)] for link in range(3)] == [(1, "burst")] * 3
    assert {k for k in found if k[0] != "client-a"} == {
        ("client-b\ufffd", 0),
        ("client-c\ufffd", 0),
    }
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT DISTINCT message_id FROM events ORDER BY 1")
        assert [r[0] for r in rows] == ["m", "m\ufffd\ufffd"]
    one.close()
    two.close()
