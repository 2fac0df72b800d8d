from __future__ import annotations

import pytest

from redirector.recording.cpu_idle import CpuIdleMeter
from redirector.recording.load_pacing import (
    CATCH_UP_BYTES,
    QUIET_SECONDS,
    YIELD_SHARE,
    rest_after_load,
    retry_delay,
)


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


def test_full_speed_once_the_clicks_stop_though_other_programs_keep_the_cpus_busy() -> None:
    assert rest_after_load(0.01, 0.02, 1000, "idle", clicks_quiet_for=QUIET_SECONDS) == 0.0
    assert rest_after_load(0.01, 0.02, 1000, "idle", clicks_quiet_for=0.1) > 0


@pytest.mark.parametrize(
    ("retry", "delays"),
    [
        (5.0, [5, 10, 20, 30, 30]),  # doubling, at most 30 s apart
        (0.2, [0.2, 0.4, 0.8, 1.6, 1.6]),  # at most 8 times the interval
        (120.0, [120, 120, 120]),  # a longer interval is kept as it is
    ],
)
def test_retries_back_off(retry: float, delays: list[float]) -> None:
    got = [retry_delay(failures, retry) for failures in range(1, len(delays) + 1)]
    assert got == pytest.approx(delays)
    assert retry_delay(10_000, retry) == pytest.approx(delays[-1])


class FakeStat:
    """`/proc/stat`'s first line, with the ticks the test says."""

    def __init__(self) -> None:
        self.lines = ["cpu  0 0 0 0 0 0 0 0 0 0"]

    def advance(self, busy: int, idle: int, iowait: int = 0) -> None:
        ticks = [int(v) for v in self.lines[-1].split()[1:]]
        ticks[0] += busy
        ticks[3] += idle
        ticks[4] += iowait
        self.lines.append("cpu  " + " ".join(map(str, ticks)))

    def __call__(self) -> str:
        return self.lines[-1] + "\ncpu0 0 0 0 0\n"


def test_the_meter_counts_idle_and_iowait_over_all_ticks() -> None:
    stat = FakeStat()
    meter = CpuIdleMeter(stat)
    stat.advance(busy=60, idle=30, iowait=10)
    assert meter.idle_share() == 0.4
    stat.advance(busy=100, idle=0)
    assert meter.idle_share() == 0.0


@pytest.mark.parametrize("text", ["", "intr 1 2 3\n", "cpu  a b c\n", "cpu 1\n"])
def test_an_unreadable_stat_counts_as_idle(text: str) -> None:
    assert CpuIdleMeter(lambda: text).idle_share() == 1.0


def test_no_time_passed_counts_as_idle() -> None:
    stat = FakeStat()
    meter = CpuIdleMeter(stat)
    assert meter.idle_share() == 1.0
