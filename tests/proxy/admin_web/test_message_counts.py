"""The message view's days and bots' reasons are counted by the store (GROUP BY) with
the spool's pending events merged once: the same numbers as counting every event, and
a message of 200,000 events read in little memory (review finding: 161 MB before)."""

from __future__ import annotations

import random
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from redirector.recording.event_reader import read_stats
from redirector.recording.event_store import SqliteEventStore
from redirector.recording.events import CLICK, OPEN, Event
from redirector.recording.spool import Spool

DAY = 86_400
T0 = 1_790_000_000 - 1_790_000_000 % DAY  # a midnight (UTC)
REASONS = [(), ("too_fast",), ("burst",), ("burst", "too_fast"), ("head", "proxy")]


def old_count(
    events: Iterable[Event],
) -> tuple[dict[str, dict[str, int]], dict[int, dict[str, int]]]:
    """The view's former count, every event read: the reference."""
    days: dict[str, Counter[str]] = {}
    reasons: dict[int, Counter[str]] = {}
    for event in events:
        if event.kind not in (CLICK, OPEN):
            continue
        day = time.strftime("%Y-%m-%d", time.gmtime(event.time))
        days.setdefault(day, Counter())[f"{'bot' if event.bot else 'human'}_{event.kind}s"] += 1
        if event.kind == CLICK and event.bot:
            reasons.setdefault(event.link_index, Counter()).update(event.reasons or ["unknown"])
    return {d: dict(c) for d, c in days.items()}, {i: dict(c) for i, c in reasons.items()}


def sample(n: int, seed: int = 13, message: str = "m1") -> list[Event]:
    rng = random.Random(seed)
    found = []
    for i in range(n):
        # Some on the very edges of a day: a day is cut at the whole second.
        at = T0 + rng.choice([rng.uniform(0, 5 * DAY), DAY - 0.0004, 2 * DAY, 3 * DAY - 1e-6])
        bot = rng.random() < 0.4
        found.append(
            Event(
                f"{i:016x}{'p' if message == 'm1' else 'q'}", at,
                rng.choice([CLICK, CLICK, OPEN, "prefetch"]), "k", message,
                f"r{rng.randrange(50)}", rng.randrange(4), f"https://example.com/{i % 3}",
                "ua", None, "ck", bot, list(rng.choice(REASONS)) if bot else [],
            )
        )  # fmt: skip
    return found


def test_the_same_numbers_as_counting_every_event(tmp_path: Path) -> None:
    events = sample(3000)
    stored, spooled = events[:2200], events[1800:]  # 400 in both: counted once
    store = SqliteEventStore(tmp_path / "trackway.db")
    store.write_batch(stored + sample(500, seed=7, message="m2"))
    spool = Spool(tmp_path / "spool")
    spool.append(spooled)

    stats = read_stats(store, spool, "m1", by_day=True)

    days, reasons = old_count(events)
    assert {d: {k: n for k, n in c.items() if n} for d, c in stats.days.items()} == days
    assert list(stats.days) == sorted(days)
    assert stats.bot_reasons == reasons
    for counts in stats.bot_reasons.values():  # most frequent first
        assert list(counts.values()) == sorted(counts.values(), reverse=True)
    assert stats.spooled_events == len([e for e in events[2200:] if e.kind in (CLICK, OPEN)])
    # What /api/stats says is unchanged by asking for days.
    assert read_stats(store, spool, "m1").links == stats.links
    store.close()


def test_200k_events_are_counted_in_little_memory(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "trackway.db", synchronous="normal")
    events = sample(200_000)
    for start in range(0, len(events), 20_000):
        store.write_batch(events[start : start + 20_000])
    days, reasons = old_count(events)
    del events
    spool = Spool(tmp_path / "spool")

    tracemalloc.start()
    try:
        stats = read_stats(store, spool, "m1", by_day=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert sum(sum(c.values()) for c in stats.days.values()) == sum(
        sum(c.values()) for c in days.values()
    )
    assert stats.bot_reasons == reasons
    assert peak < 4 * 1024 * 1024, peak  # every Event read: over 100 MB
    store.close()
