"""The events table's monthly partitions: which one an event goes to, which ones
retention drops. Pure: names and bounds from times, `now` given."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

__all__ = ["Month", "expired", "month_of", "month_of_name", "months_of"]

_NAME = re.compile(r"^events_(\d{4})_(\d{2})$")


class Month(tuple[int, int]):
    """(year, month) of UTC time: a partition of the events table."""

    __slots__ = ()

    def __new__(cls, year: int, month: int) -> Month:
        return super().__new__(cls, (year, month))

    @property
    def name(self) -> str:
        return f"events_{self[0]:04d}_{self[1]:02d}"

    @property
    def start(self) -> float:
        """Its first second (unix time, inclusive)."""
        return datetime(self[0], self[1], 1, tzinfo=UTC).timestamp()

    @property
    def end(self) -> float:
        """The next month's first second (exclusive)."""
        year, month = (self[0] + 1, 1) if self[1] == 12 else (self[0], self[1] + 1)
        return datetime(year, month, 1, tzinfo=UTC).timestamp()


def month_of(t: float) -> Month:
    when = datetime.fromtimestamp(max(0.0, t), UTC)
    return Month(when.year, when.month)


def months_of(times: Iterable[float]) -> set[Month]:
    """The months of `times` (a batch's events: most are in one, looked at once)."""
    listed = list(times)
    if not listed:
        return set()
    first, last = month_of(min(listed)), month_of(max(listed))
    return {first} if first == last else {month_of(t) for t in listed}


def month_of_name(name: str) -> Month | None:
    m = _NAME.match(name)
    return Month(int(m.group(1)), int(m.group(2))) if m else None


def expired(names: Iterable[str], retention_days: int, now: float) -> list[str]:
    """The partitions whose every event is older than `retention_days` (0: none)."""
    if retention_days <= 0:
        return []
    cutoff = now - retention_days * 86400
    months = (month_of_name(name) for name in names)
    return sorted(m.name for m in months if m is not None and m.end <= cutoff)
