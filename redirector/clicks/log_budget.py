"""At most so many log lines per interval for one kind of event; the rest counted. Pure.

Anyone can send a worker malformed requests by the thousand: each is counted in
`/metrics`, but only the first few of an interval get a log line; the others are said
in one line once the interval is over.
"""

from __future__ import annotations

import math
from typing import NamedTuple


class Verdict(NamedTuple):
    log: bool  # this event gets its line
    held_back: int  # events of an interval now over that got none: say so first


class LogBudget:
    def __init__(self, lines: int = 10, seconds: float = 60.0) -> None:
        self.lines = lines
        self.seconds = seconds
        self._start = -math.inf  # of the current interval, which begins with a line
        self._logged = 0
        self._held = 0

    def note(self, now: float) -> Verdict:
        """An event at `now`."""
        held = self.held_back(now)
        if now - self._start >= self.seconds:
            self._start, self._logged = now, 0
        if self._logged < self.lines:
            self._logged += 1
            return Verdict(True, held)
        self._held += 1
        return Verdict(False, held)

    def held_back(self, now: float) -> int:
        """Once the interval is over, how many of its events got no line (said once)."""
        if now - self._start < self.seconds:
            return 0
        held, self._held = self._held, 0
        return held
