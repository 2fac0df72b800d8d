from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from redirector.recording.bot_rules import BurstPolicy, burst_marks
from redirector.recording.burst_tracker import BurstTracker, Remark
from redirector.recording.events import Event

POLICY = BurstPolicy(links=3, seconds=10)


def hit(link: int, t: float, client: str = "c1", message: str = "m", kind: str = "click") -> Event:
    return Event(
        f"{t:020.6f}{link}{client}", t, kind, "k", message, "r", link, "u", "ua", None, client
    )


def test_a_burst_marks_this_batch_and_names_stored_events() -> None:
    tracker = BurstTracker(POLICY)
    assert tracker.observe([hit(0, 100.0)]) == []
    assert tracker.observe([hit(1, 101.0)]) == []
    batch = [hit(2, 102.0), hit(2, 102.5, client="c2")]
    remarks = tracker.observe(batch)
    assert remarks == [Remark("m", "c1", 92.0)]
    assert batch[0].bot
    assert batch[0].reasons == ["burst"]
    assert not batch[1].bot  # another client


def test_slow_clicks_and_other_messages_are_no_burst() -> None:
    tracker = BurstTracker(POLICY)
    events = [
        hit(0, 0.0),
        hit(1, 20.0),
        hit(2, 40.0),
        hit(3, 41.0, message="m2"),
        hit(0, 42.0, kind="open"),
    ]
    for event in events:
        assert tracker.observe([event]) == []
    assert not any(e.bot for e in events)


def test_within_one_batch() -> None:
    tracker = BurstTracker(POLICY)
    batch = [hit(0, 1.0), hit(1, 1.1), hit(2, 1.2), hit(3, 30.0)]
    assert tracker.observe(batch) == []  # nothing stored joined it
    assert [e.bot for e in batch] == [True, True, True, False]


def test_warm_start_and_memory_bounds() -> None:
    tracker = BurstTracker(POLICY, max_clients=2)
    tracker.warm([hit(0, 1.0), hit(1, 2.0)])
    (remark,) = tracker.observe([hit(2, 3.0)])
    assert remark.client_key == "c1"
    tracker.observe([hit(0, 4.0, client="c2"), hit(0, 4.0, client="c3")])
    assert len(tracker) == 2
    tracker.forget_before(100.0)
    assert len(tracker) == 0


def reference_marks(
    earlier: list[tuple[int, float]], new: list[tuple[int, float]], policy: BurstPolicy
) -> tuple[list[bool], float | None]:
    """The rule as written down, quadratic: each hit in time order ends a window."""
    hits = sorted(
        [(t, -1, link) for link, t in earlier] + [(t, i, link) for i, (link, t) in enumerate(new)]
    )
    marks = [False] * len(new)
    since: float | None = None
    for end, (t, _, _) in enumerate(hits):
        window = [hits[k] for k in range(end + 1) if t - hits[k][0] <= policy.seconds]
        if len({h[2] for h in window}) >= policy.links and any(h[1] >= 0 for h in window):
            for h in window:
                if h[1] >= 0:
                    marks[h[1]] = True
            if any(h[1] < 0 for h in window):
                start = t - policy.seconds
                since = start if since is None else min(since, start)
    return marks, since


_HITS = st.lists(st.tuples(st.integers(0, 4), st.floats(0, 1, allow_nan=False)), max_size=30).map(
    lambda hits: [
        (link, round(sum(d for _, d in hits[: i + 1]) * 4)) for i, (link, _) in enumerate(hits)
    ]
)


@given(_HITS, st.integers(0, 30), st.integers(2, 4), st.integers(1, 6), st.randoms())
def test_burst_marks_agree_with_the_rule(
    hits: list[tuple[int, float]], split: int, links: int, seconds: int, rnd: Any
) -> None:
    policy = BurstPolicy(links=links, seconds=seconds)
    rnd.shuffle(hits)  # hits may arrive in any order
    earlier, new = hits[:split], hits[split:]
    assert burst_marks(earlier, new, policy) == reference_marks(earlier, new, policy)


def test_a_retried_or_reloaded_batch_counts_once() -> None:
    # One client, three links, 12 s apart: no burst in 10 s, however often it is seen.
    tracker = BurstTracker(POLICY)
    batch = [hit(1, 0.0), hit(2, 12.0), hit(3, 24.0)]
    assert tracker.observe(batch, remember=False) == []  # the commit failed
    again = [hit(1, 0.0), hit(2, 12.0), hit(3, 24.0)]
    assert tracker.observe(again, remember=False) == []
    tracker.remember(again)
    reloaded = [hit(1, 0.0), hit(2, 12.0), hit(3, 24.0)]  # read again after a restart
    assert tracker.observe(reloaded) == []
    assert not any(e.bot for e in [*batch, *again, *reloaded])


def test_a_late_hit_joins_a_burst_of_stored_ones() -> None:
    tracker = BurstTracker(POLICY)
    tracker.observe([hit(1, 100.0)])
    tracker.observe([hit(2, 105.0)])
    late = hit(3, 103.0)  # from a worker whose file was loaded later
    assert tracker.observe([late]) == [Remark("m", "c1", 95.0)]
    assert late.bot
