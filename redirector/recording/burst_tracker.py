"""Bursts found in memory: the writer sees every event of its data folder, so it can
keep each client's recent hits per message itself instead of asking the database for
every click (which cost more than the insert). Pure: times come from the events.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

from redirector.recording.bot_rules import BURST, BurstPolicy, burst_marks
from redirector.recording.events import OPEN, Event

__all__ = ["MAX_HITS_PER_CLIENT", "BurstTracker", "Remark", "StoredHit", "bursts_with_stored"]

MAX_HITS_PER_CLIENT = 64


@dataclass(frozen=True)
class Remark:
    """Stored events of one client on one message, from `since`, that joined a burst."""

    message_id: str
    client_key: str
    since: float


class BurstTracker:
    def __init__(self, policy: BurstPolicy, max_clients: int = 200_000) -> None:
        self.policy = policy
        self.max_clients = max_clients
        # (message id, client key) -> recent (link index, time, event id); the dict
        # itself in order of last use, so the stalest clients go first when it is full.
        self._recent: OrderedDict[tuple[str, str], deque[tuple[int, float, str]]] = OrderedDict()

    def warm(self, stored: Iterable[Event]) -> None:
        """Learn stored events (oldest first), e.g. the last window's after a restart."""
        for event in stored:
            self._remember(event)

    def observe(self, events: list[Event], remember: bool = True) -> list[Remark]:
        """Mark the events that complete or join a burst; name the stored ones to mark.

        An event this tracker has seen (the same id: a batch loaded again after a failed
        commit or a restart) counts once. With `remember=False` the tracker learns
        nothing yet: call `remember(events)` once they are committed, so that a failed
        commit's retry finds the same bursts.
        """
        clients: dict[tuple[str, str], list[Event]] = {}
        for event in events:
            if event.kind != OPEN and event.client_key:
                key = (event.message_id, event.client_key)
                group = clients.get(key)
                if group is None:
                    clients[key] = [event]
                else:
                    group.append(event)
        remarks = []
        links, recent = self.policy.links, self._recent
        for key, group in clients.items():
            earlier = recent.get(key, ())
            if len(earlier) + len(group) < links:
                continue  # too few hits to hold that many links: most clients, at once
            seen = {event_id for _, _, event_id in earlier}
            hits = list({e.id: e for e in group if e.id not in seen}.values())
            if len(earlier) + len(hits) < links:
                continue
            marks, stored_since = burst_marks(
                [(link, t) for link, t, _ in earlier],
                [(e.link_index, e.time) for e in hits],
                self.policy,
            )
            for event, marked in zip(hits, marks, strict=True):
                if marked:
                    event.bot = True
                    if BURST not in event.reasons:
                        event.reasons.append(BURST)
            if stored_since is not None:
                remarks.append(Remark(key[0], key[1], stored_since))
        if remember:
            self.remember(events)
        return remarks

    def remember(self, events: Iterable[Event]) -> None:
        learn = self.learn
        for e in events:
            if e.kind != OPEN and e.client_key:
                learn(e.message_id, e.client_key, e.link_index, e.time, e.id)

    def _remember(self, event: Event) -> None:
        self.remember((event,))

    def learn(
        self, message_id: str, client_key: str, link_index: int, t: float, event_id: str
    ) -> None:
        """A stored hit (a click or prefetch), given by its parts (a row of the store)."""
        key = (message_id, client_key)
        hits = self._recent.get(key)
        if hits is None:  # most clients: one hit, nothing to drop
            self._recent[key] = deque(((link_index, t, event_id),), MAX_HITS_PER_CLIENT)
            if len(self._recent) > self.max_clients:
                self._recent.popitem(last=False)
            return
        self._recent.move_to_end(key)
        if any(seen == event_id for _, _, seen in hits):
            return
        hits.append((link_index, t, event_id))
        newest = max(t for _, t, _ in hits)
        while hits and newest - hits[0][1] > self.policy.seconds:
            hits.popleft()

    def forget_before(self, cutoff: float) -> None:
        """Drop clients whose last hit is older than `cutoff` (keeps memory bounded)."""
        while self._recent:
            hits = next(iter(self._recent.values()))
            if hits and max(t for _, t, _ in hits) >= cutoff:
                break
            self._recent.popitem(last=False)

    def __len__(self) -> int:
        return len(self._recent)


StoredHit = tuple[str, str, int, float, str]  # message id, client key, link, time, event id


def bursts_with_stored(
    events: list[Event], stored: Iterable[StoredHit], policy: BurstPolicy
) -> list[Remark]:
    """`observe` against the stored hits of the events' clients, whoever stored them (a
    store shared by several servers, whose loaders each know only their own events):
    marks the events in a burst, names the stored ones to mark."""
    tracker = BurstTracker(policy, max_clients=1 << 62)  # holds only these clients
    for hit in sorted(stored, key=lambda h: (h[3], h[4])):
        tracker.learn(*hit)
    return tracker.observe(events, remember=False)
