"""Monthly partitions: names, bounds and what retention drops. Pure, by tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from proxy.store.partitions import Month, expired, month_of, month_of_name, months_of


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("when", "name"),
    [
        (ts(2026, 12, 4, 19), "events_2026_12"),
        (ts(2026, 12, 31, 23, 59, 59), "events_2026_12"),
        (ts(2027, 1, 1), "events_2027_01"),
        (0.0, "events_1970_01"),
    ],
)
def test_an_event_goes_to_its_utc_month(when: float, name: str) -> None:
    assert month_of(when).name == name


def test_bounds_are_the_month_start_and_the_next_month_start() -> None:
    december = Month(2026, 12)
    assert (december.start, december.end) == (ts(2026, 12, 1), ts(2027, 1, 1))
    assert month_of_name(december.name) == december
    assert month_of_name("events_load") is None
    assert months_of([ts(2026, 11, 30), ts(2026, 12, 1), ts(2026, 12, 2)]) == {
        Month(2026, 11),
        december,
    }


@pytest.mark.parametrize(
    ("days", "now", "dropped"),
    [
        (0, ts(2030, 1, 1), []),  # kept forever
        (30, ts(2026, 12, 4), ["events_2026_10"]),  # November still holds days inside 30
        (30, ts(2026, 12, 31), ["events_2026_10", "events_2026_11"]),
        (400, ts(2026, 12, 4), []),
    ],
)
def test_retention_drops_only_months_wholly_past_it(
    days: int, now: float, dropped: list[str]
) -> None:
    names = ["events_2026_10", "events_2026_11", "events_2026_12", "events_load"]
    assert expired(names, days, now) == dropped
