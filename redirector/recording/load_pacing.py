"""How long the writer process rests after loading a batch (clicks first), and after
a failed one (backoff). Pure.

With `store.load_priority = "idle"`, while the workers keep the CPUs busy the loader
takes a small share of one CPU and the database falls behind the spool for a while;
when the CPUs have time again, or once the backlog is big, it loads at full speed
beside the workers, so a long peak does not leave it ever further behind.
"""

from __future__ import annotations

YIELD_SHARE = 0.1  # of one CPU, while clicks keep the CPUs busy
BUSY_BELOW_IDLE = 0.1  # the CPUs are busy when less than this share of their time is idle
CATCH_UP_BYTES = 64 * 1024 * 1024  # a backlog this big is loaded at full speed
# No spool file written for this long: the clicks have stopped, there is nothing to
# yield to (other programs may still keep the CPUs busy: a shared machine).
QUIET_SECONDS = 1.0
# A database that stays down is tried less and less often: up to 8 times the retry
# interval, and no more than 30 s apart unless the interval itself is longer.
MAX_BACKOFF_FACTOR = 8
MAX_BACKOFF_SECONDS = 30.0


def rest_after_load(
    spent: float,
    idle_share: float,
    backlog_bytes: int,
    priority: str,
    clicks_quiet_for: float = 0.0,
) -> float:
    """Seconds to rest after a load that took `spent` seconds; `clicks_quiet_for`: how
    long since a click was last spooled."""
    if (
        priority != "idle"
        or backlog_bytes >= CATCH_UP_BYTES
        or idle_share >= BUSY_BELOW_IDLE
        or clicks_quiet_for >= QUIET_SECONDS
    ):
        return 0.0
    return spent * (1 - YIELD_SHARE) / YIELD_SHARE


def retry_delay(failures: int, retry_seconds: float) -> float:
    """Seconds until the next try after `failures` failed loads in a row (1 or more):
    `retry_seconds`, doubling with each failure up to the cap."""
    cap = max(retry_seconds, min(MAX_BACKOFF_SECONDS, retry_seconds * MAX_BACKOFF_FACTOR))
    return float(min(cap, retry_seconds * 2 ** min(failures - 1, 32)))
