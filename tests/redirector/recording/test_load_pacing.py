from __future__ import annotations

import os
import time

import pytest

from redirector.recording.cpu_idle import CpuIdleMeter
from redirector.recording.load_pacing import CATCH_UP_BYTES, YIELD_SHARE, rest_after_load


def test_busy_cpus_get_most_of_the_time_back() -> None:
    rest = rest_after_load(0.01, idle_share=0.02, backlog_bytes=1000, priority="idle")
    assert rest == pytest.approx(0.01 * (1 - YIELD_SHARE) / YIELD_SHARE)


@pytest.mark.parametrize(
    ("idle_share", "backlog", "priority"),
    [
        (0.5, 1000, "idle"),  # time to spare: full speed
        (0.02, CATCH_UP_BYTES, "idle"),  # the backlog is big: full speed, bounded lag
        (0.02, 1000, "normal"),
    ],
)
def test_full_speed(idle_share: float, backlog: int, priority: str) -> None:
    assert rest_after_load(0.01, idle_share, backlog, priority) == 0.0


def test_the_meter_reads_this_machine() -> None:
    meter = CpuIdleMeter()
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        pass  # keep one CPU busy
    # One CPU of os.cpu_count() was never idle (half of one, to leave room for noise).
    assert 0.0 <= meter.idle_share() <= 1.0 - 0.5 / (os.cpu_count() or 1)
