"""The share of CPU time that was idle since the last look (Linux `/proc/stat`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

_STAT = Path("/proc/stat")


def read_proc_stat() -> str:
    return _STAT.read_text()


class CpuIdleMeter:
    def __init__(self, read_stat: Callable[[], str] = read_proc_stat) -> None:
        """`read_stat`: the text of `/proc/stat` now (a seam for tests)."""
        self._read_stat = read_stat
        self._last = self._read()

    def idle_share(self) -> float:
        """Idle (and I/O wait) time over all time since the last call; 1.0 if unknown."""
        now = self._read()
        last, self._last = self._last, now
        if now is None or last is None or now[1] <= last[1]:
            return 1.0
        return (now[0] - last[0]) / (now[1] - last[1])

    def _read(self) -> tuple[int, int] | None:
        try:
            fields = self._read_stat().split("\n", 1)[0].split()
            if not fields or fields[0] != "cpu":
                return None
            ticks = [int(v) for v in fields[1:]]
        except (OSError, ValueError):
            return None
        return sum(ticks[3:5]), sum(ticks[:8])  # idle + iowait; user … steal
