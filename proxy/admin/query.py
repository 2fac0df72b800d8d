"""Filters from query strings and command-line values, with errors that say what is wrong."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from config.errors import InvalidInput
from redirector.recording.event_store import EventFilter
from redirector.recording.events import KINDS

MAX_LIMIT = 10_000
_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class QueryError(InvalidInput, ValueError):
    """A filter's value is wrong; the message names the filter."""


def parse_since(value: str, now: float | None = None) -> float:
    """Unix seconds, an ISO 8601 date or time (UTC unless it says), or an age: 30m, 2h, 7d."""
    value = value.strip()
    now = time.time() if now is None else now
    relative = _RELATIVE.fullmatch(value)
    if relative:
        return now - float(relative.group(1)) * _UNITS[relative.group(2)]
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"since: {value!r} is not unix seconds, an ISO 8601 time or an age like 2h"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def flag(query: Mapping[str, str], name: str) -> bool:
    """A yes/no parameter: `1` or `true`; `0`, `false` or absent for no."""
    value = query.get(name, "").lower()
    if value not in ("", "0", "false", "1", "true"):
        raise QueryError(f"{name}: 1 (or true) or 0 (or false), not {value!r}")
    return value in ("1", "true")


def event_filter(query: Mapping[str, str], default_limit: int = 1000) -> EventFilter:
    kind = query.get("kind") or None
    if kind is not None and kind not in KINDS:
        raise QueryError(f"kind: one of {', '.join(KINDS)}")
    limit_text = query.get("limit") or str(default_limit)
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise QueryError(f"limit: a whole number from 1 to {MAX_LIMIT}")
    since = query.get("since")
    return EventFilter(
        message_id=query.get("message_id") or query.get("message") or None,
        recipient_id=query.get("recipient_id") or query.get("recipient") or None,
        kind=kind,
        since=parse_since(since) if since else None,
        after_id=query.get("cursor") or None,
        limit=int(limit_text),
    )
