"""What a spool record's payload holds: a batch of hits or events, in `marshal`.

The payload is `marshal` format 4 of (kind, rows). Kind "h3": hits from workers (the
raw facts of each click: turning them into events is the loader's work, off the
clicks' path), each the hit's values with its claims as a plain tuple; "e3": events'
values (`Event.as_values`). marshal because a worker encodes every click: it is ten
times cheaper than JSON here (measured: 0.3 against 3 µs an event), and it only ever
reads bytes whose CRC says this code wrote them. It takes plain tuples only, hence the
claims' `tuple()`.
"""

from __future__ import annotations

import marshal
import typing
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from config import ClickSettings
from redirector.links.tokens import Claims
from redirector.recording.events import BROWSER, Event
from redirector.recording.hits import Hit, event_from_hit

_MARSHAL_VERSION = 4
_HITS, _EVENTS = "h3", "e3"
# The kinds of earlier versions, still read: a spool written before an upgrade is loaded
# after it. Before sources ("h2", "e2"): every value but the last, `source` (BROWSER then).
# Before labels ("h", "e"): "h" 11 values (`_hit_v1`); "e" every event field but `label`.
_HITS_V2, _EVENTS_V2 = "h2", "e2"
_HITS_V1, _EVENTS_V1 = "h", "e"


def events_payload(events: Sequence[Event]) -> bytes:
    return marshal.dumps((_EVENTS, [e.as_values() for e in events]), _MARSHAL_VERSION)


def hits_payload(hits: Sequence[Hit]) -> bytes:
    rows = [(*hit[:5], tuple(hit.claims), hit.source) for hit in hits]
    return marshal.dumps((_HITS, rows), _MARSHAL_VERSION)


def settings_free_event(hit: Hit) -> Event:
    """A hit as an event for a reader that knows no settings: no address kept."""
    return event_from_hit(hit, _NO_ADDRESS, b"")


_NO_ADDRESS = ClickSettings(client_ip="none")


def payload_events(payload: bytes, to_event: Callable[[Hit], Event]) -> list[Event]:
    """The events of one payload; ValueError, TypeError or EOFError if it is not one
    this code wrote."""
    kind, rows = marshal.loads(payload)  # noqa: S302 - our record: its CRC matched
    if kind == _HITS:
        return [to_event(_hit(values)) for values in rows]
    if kind == _EVENTS:
        return [Event.from_values(values) for values in rows]
    if kind == _HITS_V2:
        return [to_event(_hit((*values, BROWSER))) for values in rows]
    if kind == _EVENTS_V2:
        return [Event.from_values((*values, BROWSER)) for values in rows]
    if kind == _HITS_V1:
        return [to_event(_hit_v1(values)) for values in rows]
    if kind == _EVENTS_V1:
        return [Event.from_values((*values, None, BROWSER)) for values in rows]
    raise ValueError(kind)


def payload_length(payload: bytes) -> int:
    """How many hits or events a payload holds, without making them (cheap: a count of
    the backlog); ValueError, TypeError or EOFError as `payload_events`."""
    _, rows = marshal.loads(payload)  # noqa: S302 - our record: its CRC matched
    return len(rows)


def _hit(values: tuple[Any, ...]) -> Hit:
    if len(values) != len(Hit._fields):
        raise TypeError("not a Hit")
    *request, claims, source = values
    return _typed(Hit, (*request, _typed(Claims, claims), source))


def _hit_v1(values: tuple[Any, ...]) -> Hit:
    """A hit as the version before labels wrote it: the claims' fields in its own."""
    (event_id, at, kind, key_id, message_id, recipient_id, link_index, url, sent_at,
     user_agent, address) = values  # fmt: skip
    # No label then, and token version 1, the only one there was.
    claims = (url, message_id, recipient_id, link_index, sent_at, None, key_id, 1)
    return _hit((event_id, at, kind, user_agent, address, claims, BROWSER))


_T = TypeVar("_T", Hit, Claims)


# Each field's type, from the declaration, as `isinstance` takes it (a float may have
# been written as an int).
def _isinstance_form(tp: Any) -> Any:
    """A tuple of classes: `isinstance` takes it fastest (a union `str | None` costs more)."""
    if tp is float:
        return (float, int)
    return typing.get_args(tp) or tp


_TYPES: dict[type, tuple[Any, ...]] = {
    cls: tuple(_isinstance_form(tp) for tp in typing.get_type_hints(cls).values())
    for cls in (Hit, Claims)
}


def _typed(cls: type[_T], values: tuple[Any, ...]) -> _T:
    """`cls` of exactly these values, each of its field's type; TypeError if not."""
    if len(values) != len(cls._fields):
        raise TypeError(f"not a {cls.__name__}")
    made = tuple.__new__(cls, values)  # the fields' count checked above
    # map() in C: the loader's hot loop, two calls a hit (a loop here took 1 µs a hit).
    if not all(map(isinstance, made, _TYPES[cls])):
        wrong = next(v for v, tp in zip(made, _TYPES[cls], strict=True) if not isinstance(v, tp))
        raise TypeError(f"{wrong!r} is not of its field's type")
    return made
