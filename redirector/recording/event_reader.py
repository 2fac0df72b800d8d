"""Reading events back: the database and, until the loader has moved them, the spool."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redirector.recording.event_store import (
    DAY_COUNTS,
    EventFilter,
    EventStore,
    LinkStats,
    StoredStats,
    StoreUnavailable,
    day_count,
    reason_names,
)
from redirector.recording.events import CLICK, OPEN, Event
from redirector.recording.spool import Spool


def matches(event: Event, flt: EventFilter) -> bool:
    return (
        (flt.message_id is None or event.message_id == flt.message_id)
        and (flt.recipient_id is None or event.recipient_id == flt.recipient_id)
        and (flt.kind is None or event.kind == flt.kind)
        and (flt.since is None or event.time >= flt.since)
        and (flt.after_id is None or event.id > flt.after_id)
    )


def read_events(store: EventStore | None, spool: Spool, flt: EventFilter) -> list[Event]:
    """Events in id (time) order, spooled ones included, at most `flt.limit`. The spool
    is read first (as in `read_stats`): an event the loader moves meanwhile is in the
    store's later snapshot, rather than in neither. The store's copy wins: the loader
    may have marked it since (a burst)."""
    found: dict[str, Event] = {}
    if spool.pending():
        found = {event.id: event for event in spool.read_all() if matches(event, flt)}
    if store is not None:
        with contextlib.suppress(StoreUnavailable):
            found.update((e.id, e) for e in store.query(flt))
    return sorted(found.values(), key=lambda e: e.id)[: flt.limit]


@dataclass(frozen=True)
class MessageStats:
    """A message's per-link click counts and its opens, spooled events included."""

    message_id: str
    links: list[LinkStats]
    opens: dict[str, int]  # human_opens, bot_opens, unique_openers
    # Of the events counted, those still in the spool: the loader has not looked for
    # bursts among them yet, so some of their human counts may become bot counts.
    spooled_events: int
    # With `by_day` (the admin page's message view): UTC day -> DAY_COUNTS -> n, and
    # link -> a bot click's reason -> n, most frequent first.
    days: dict[str, dict[str, int]] = field(default_factory=dict)
    bot_reasons: dict[int, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON of `/api/stats` and `trackway stats --json`."""
        return {
            "message_id": self.message_id,
            "links": [s.as_dict() for s in self.links],
            **self.opens,
            "spooled_events": self.spooled_events,
        }


def read_stats(
    store: EventStore, spool: Spool, message_id: str, by_day: bool = False
) -> MessageStats:
    """The store's counts with the spool's events not in it yet. The spool is read
    first: an event the loader moves meanwhile is in the store's snapshot, and counted
    once (by id), rather than in neither."""
    spooled = (
        [e for e in spool.read_all() if e.message_id == message_id and e.kind in (CLICK, OPEN)]
        if spool.pending()
        else []
    )
    return merge_stats(message_id, store.stats(message_id, spooled, by_day), spooled)


def merge_stats(message_id: str, stored: StoredStats, spooled: Sequence[Event]) -> MessageStats:
    """`stored` counts plus those of the `spooled` events it does not hold. Pure."""
    fresh = {e.id: e for e in spooled if e.id not in stored.stored_ids}.values()
    links = {s.link_index: s for s in stored.links}
    clickers = set(stored.human_clickers)
    opens = dict(stored.opens)
    openers = set(stored.human_openers)
    days = {day: dict(counts) for day, counts in (stored.days or {}).items()}
    reasons = {index: dict(counts) for index, counts in (stored.bot_reasons or {}).items()}
    for event in sorted(fresh, key=lambda e: e.id):
        if stored.days is not None:
            _add_to_day(days, reasons, event)
        human = not event.bot
        if event.kind == OPEN:
            opens["human_opens" if human else "bot_opens"] += 1
            if human and event.recipient_id not in openers:
                openers.add(event.recipient_id)
                opens["unique_openers"] += 1
            continue
        index = event.link_index
        new_recipient = human and (index, event.recipient_id) not in clickers
        if new_recipient:
            clickers.add((index, event.recipient_id))
        links[index] = _add_click(links.get(index), event, new_recipient)
    return MessageStats(
        message_id,
        [links[i] for i in sorted(links)],
        opens,
        len(fresh),
        {day: days[day] for day in sorted(days)},
        {
            i: dict(sorted(n.items(), key=lambda r: (-r[1], r[0])))
            for i, n in sorted(reasons.items())
        },
    )


def _add_to_day(
    days: dict[str, dict[str, int]], reasons: dict[int, dict[str, int]], event: Event
) -> None:
    day = time.strftime("%Y-%m-%d", time.gmtime(event.time))
    counts = days.setdefault(day, dict.fromkeys(DAY_COUNTS, 0))
    counts[day_count(event.kind, event.bot)] += 1
    if event.kind == CLICK and event.bot:
        found = reasons.setdefault(event.link_index, {})
        for reason in reason_names(",".join(event.reasons)):
            found[reason] = found.get(reason, 0) + 1


def _add_click(stats: LinkStats | None, event: Event, new_recipient: bool) -> LinkStats:
    """`stats` with one more click; as the store says a link's URL and label: the
    lowest of its clicks'."""
    if stats is None:
        stats = LinkStats(event.link_index, event.url, event.label, 0, 0, 0)
    labels = [label for label in (stats.label, event.label) if label is not None]
    return LinkStats(
        stats.link_index,
        min(stats.url, event.url),
        min(labels) if labels else None,
        stats.human_clicks + (not event.bot),
        stats.bot_clicks + event.bot,
        stats.unique_recipients + new_recipient,
    )
