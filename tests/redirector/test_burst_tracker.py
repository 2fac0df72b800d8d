from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from redirector.bot_rules import BurstPolicy, burst_marks
from redirector.burst_tracker import BurstTracker, Remark
from redirector.events import Event

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
    """The rule as written down, quadratic: each hit looks at its whole window."""
    hits = [(link, t, i < len(earlier)) for i, (link, t) in enumerate([*earlier, *new])]
    marks = [False] * len(new)
    since: float | None = None
    for i in range(len(earlier), len(hits)):
        window = [j for j in range(i + 1) if hits[i][1] - hits[j][1] <= policy.seconds]
        if len({hits[j][0] for j in window}) >= policy.links:
            for j in window:
                if j >= len(earlier):
                    marks[j - len(earlier)] = True
            if any(hits[j][2] for j in window):
                start = hits[i][1] - policy.seconds
                since = start if since is None else min(since, start)
    return marks, since


_HITS = st.lists(st.tuples(st.integers(0, 4), st.floats(0, 1, allow_nan=False)), max_size=30).map(
    lambda hits: [
        (link, round(sum(d for _, d in hits[: i + 1]) * 4)) for i, (link, _) in enumerate(hits)
    ]
)


@given(_HITS, st.integers(0, 30), st.integers(2, 4), st.integers(1, 6))
def test_burst_marks_agree_with_the_rule(
    hits: list[tuple[int, float]], split: int, links: int, seconds: int
) -> None:
    policy = BurstPolicy(links=links, seconds=seconds)
    earlier, new = hits[:split], hits[split:]
    assert burst_marks(earlier, new, policy) == reference_marks(earlier, new, policy)
