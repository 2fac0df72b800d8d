"""Reading events back: the database and, until the loader has moved them, the spool."""

from __future__ import annotations

from redirector.recording.event_store import EventFilter, EventStore, StoreUnavailable
from redirector.recording.events import Event
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
    """Events in id (time) order, spooled ones included, at most `flt.limit`."""
    found: dict[str, Event] = {}
    if store is not None:
        try:
            found = {e.id: e for e in store.query(flt)}
        except StoreUnavailable:
            found = {}
    if spool.pending():
        for event in spool.read_all():
            if matches(event, flt):
                found.setdefault(event.id, event)
    return sorted(found.values(), key=lambda e: e.id)[: flt.limit]
