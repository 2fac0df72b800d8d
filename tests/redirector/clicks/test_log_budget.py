"""At most so many lines per interval; the rest said in one line afterwards."""

from __future__ import annotations

from redirector.clicks.log_budget import LogBudget, Verdict


def test_a_few_lines_then_one_saying_how_many_were_held_back() -> None:
    budget = LogBudget(lines=2, seconds=10)
    events = [0, 1, 2, 3, 9.9, 10, 10.5, 11, 30, 40.1]
    assert [budget.note(now) for now in events] == [
        Verdict(True, 0),
        Verdict(True, 0),
        Verdict(False, 0),
        Verdict(False, 0),
        Verdict(False, 0),  # still the first interval
        Verdict(True, 3),  # a new one: the 3 held back are said first
        Verdict(True, 0),
        Verdict(False, 0),
        Verdict(True, 1),
        Verdict(True, 0),
    ]


def test_what_was_held_back_is_said_once_the_interval_is_over() -> None:
    budget = LogBudget(lines=1, seconds=10)
    assert budget.note(0) == Verdict(True, 0)
    for now in (1, 2, 3):
        assert budget.note(now) == Verdict(False, 0)
    assert budget.held_back(9) == 0  # not yet
    assert budget.held_back(10) == 3
    assert budget.held_back(11) == 0  # said once
    assert budget.note(12) == Verdict(True, 0)
