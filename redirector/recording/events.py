"""A recorded click, open or prefetch. Pure data."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

CLICK = "click"
OPEN = "open"
PREFETCH = "prefetch"  # a HEAD request: a scanner or a client looking before it leaps
KINDS = (CLICK, OPEN, PREFETCH)


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

    def as_values(self) -> tuple[Any, ...]:
        """`as_row()`'s values, in its order (the spool's and the insert's form)."""
        return (
            self.id,
            self.time,
            self.kind,
            self.key_id,
            self.message_id,
            self.recipient_id,
            self.link_index,
            self.url,
            self.user_agent,
            self.client_ip,
            self.client_key,
            int(self.bot),
            ",".join(self.reasons),
        )

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> Event:
        """From `as_values()` (as the spool gives it back); TypeError or ValueError if it is
        not that shape."""
        (
            id_,
            time_,
            kind,
            key_id,
            message_id,
            recipient_id,
            link_index,
            url,
            user_agent,
            client_ip,
            client_key,
            bot,
            reasons,
        ) = values
        for text in (id_, kind, key_id, message_id, recipient_id, url, user_agent, client_key):
            if not isinstance(text, str):
                raise TypeError("not an event")
        if client_ip is not None and not isinstance(client_ip, str):
            raise TypeError("not an event")
        return cls(
            id_,
            float(time_),
            kind,
            key_id,
            message_id,
            recipient_id,
            int(link_index),
            url,
            user_agent,
            client_ip,
            client_key,
            bool(bot),
            [r for r in str(reasons).split(",") if r],
        )

    def storable_values(self) -> tuple[Any, ...]:
        """`as_values()` with every text as valid Unicode, which a database requires."""
        return tuple(storable(v) if isinstance(v, str) else v for v in self.as_values())

    def as_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time,
            "kind": self.kind,
            "key_id": self.key_id,
            "message_id": self.message_id,
            "recipient_id": self.recipient_id,
            "link_index": self.link_index,
            "url": self.url,
            "user_agent": self.user_agent,
            "client_ip": self.client_ip,
            "client_key": self.client_key,
            "bot": int(self.bot),
            "reasons": ",".join(self.reasons),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Event:
        reasons = row.get("reasons") or ""
        return cls(
            id=str(row["id"]),
            time=float(row["time"]),
            kind=str(row["kind"]),
            key_id=str(row["key_id"]),
            message_id=str(row["message_id"]),
            recipient_id=str(row["recipient_id"]),
            link_index=int(row["link_index"]),
            url=str(row["url"]),
            user_agent=str(row["user_agent"]),
            client_ip=row.get("client_ip"),
            client_key=str(row.get("client_key") or ""),
            bot=bool(row["bot"]),
            reasons=[r for r in reasons.split(",") if r]
            if isinstance(reasons, str)
            else list(reasons),
        )

    def public(self) -> dict[str, Any]:
        """The exported form (API, `events export`): no client key."""
        return {
            "id": self.id,
            "kind": self.kind,
            "time": self.time,
            "message_id": self.message_id,
            "recipient_id": self.recipient_id,
            "link_index": self.link_index,
            "url": self.url,
            "key_id": self.key_id,
            "user_agent": self.user_agent,
            "client_ip": self.client_ip,
            "bot": self.bot,
            "reasons": list(self.reasons),
        }
