"""A recorded click, open or prefetch. Pure data."""

from __future__ import annotations

import itertools
import operator
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

CLICK = "click"
OPEN = "open"
PREFETCH = "prefetch"  # a HEAD request: a scanner or a client looking before it leaps
KINDS = (CLICK, OPEN, PREFETCH)
# Who resolved a link: APP when an app asked `/a/<token>` for JSON (the destination, no
# redirect); BROWSER for every other answer (a redirect, a pixel: a browser, a mail
# client, a scanner, or an app reading the redirect's Location).
BROWSER = "browser"
APP = "app"
SOURCES = (BROWSER, APP)


_PROCESS_TAG = os.urandom(3).hex()  # made anew in each (spawned) process
_SEQUENCE = itertools.count()


def new_event_id() -> str:
    """Time-ordered (nanoseconds, hex) and unique (this process's tag and a counter):
    paging sorts by it, and a replayed spool never records an event twice."""
    return f"{time.time_ns():016x}{_PROCESS_TAG}{next(_SEQUENCE) & 0xFFFFFF:06x}"


def event_id_floor(since: float) -> str:
    """The smallest id an event at or after `since` (unix seconds) can have."""
    return f"{max(0, int(since * 1e9)):016x}"


def storable(text: str) -> str:
    """`text` as valid Unicode. A header's undecodable bytes arrive as lone surrogates
    (surrogateescape), which no database takes: they become U+FFFD."""
    if text.isascii():
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte
        raw = text.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


@dataclass
class Event:
    """One recorded event. Its fields are the schema, declared here once: the database's
    columns, the spool's records and the exported form are all derived from them."""

    id: str  # new_event_id()
    time: float  # unix seconds
    kind: str
    key_id: str
    message_id: str
    recipient_id: str
    link_index: int
    url: str
    user_agent: str
    client_ip: str | None  # as the client_ip setting allows
    client_key: str  # a keyed hash of the full address: bursts are found without storing it
    bot: bool = False
    reasons: list[str] = field(default_factory=list)
    label: str | None = None  # the link's, from its token (`[rewrite] label_attribute`)
    source: str = BROWSER  # SOURCES; rows of before it was recorded read as BROWSER

    def as_values(self) -> tuple[Any, ...]:
        """The stored form, a value per field in `FIELDS` order (the spool's and the
        database's): `bot` as 0 or 1, `reasons` joined by commas."""
        values = list(_ALL_FIELDS(self))
        values[_BOT] = int(self.bot)
        values[_REASONS] = ",".join(self.reasons)
        return tuple(values)

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> Event:
        """From the stored form (a spool record, a database row); TypeError or ValueError
        if it is not that shape."""
        if len(values) != len(FIELDS):
            raise TypeError("not an event")
        return cls(*(read(value) for read, value in zip(_READERS, values, strict=True)))

    def storable_values(self) -> tuple[Any, ...]:
        """`as_values()` with every text as valid Unicode, which a database requires."""
        # A list comprehension: the loader's hot loop (a generator costs twice as much).
        return tuple([storable(v) if v.__class__ is str else v for v in self.as_values()])

    def public(self) -> dict[str, Any]:
        """The exported form (API, `events export`): every field but the client key."""
        return {name: getattr(self, name) for name in PUBLIC_FIELDS}


FIELDS = tuple(f.name for f in fields(Event))
PUBLIC_FIELDS = tuple(name for name in FIELDS if name != "client_key")
_ALL_FIELDS = operator.attrgetter(*FIELDS)
_BOT, _REASONS = FIELDS.index("bot"), FIELDS.index("reasons")


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not an event")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _reasons(value: object) -> list[str]:
    return [r for r in str(value).split(",") if r]


# How each field's stored value is read back, and its database column: by the field's
# declared type (annotations are strings here: `from __future__ import annotations`).
_READ_BY_TYPE: dict[str, Callable[[Any], Any]] = {
    "str": _text,
    "str | None": _optional_text,
    "float": float,
    "int": int,
    "bool": bool,
    "list[str]": _reasons,
}
_COLUMN_BY_TYPE: dict[str, type] = {
    "str": str,
    "str | None": str,
    "float": float,
    "int": int,
    "bool": int,
    "list[str]": str,
}
_READERS = tuple(_READ_BY_TYPE[str(f.type)] for f in fields(Event))
COLUMNS: dict[str, type] = {f.name: _COLUMN_BY_TYPE[str(f.type)] for f in fields(Event)}
NULLABLE_COLUMNS = frozenset(f.name for f in fields(Event) if str(f.type).endswith("| None"))
# What an old database's rows hold for a column added since that may not be NULL.
COLUMN_DEFAULTS: dict[str, str | int | float] = {
    f.name: f.default
    for f in fields(Event)
    if f.name not in NULLABLE_COLUMNS and isinstance(f.default, str | int | float)
}
