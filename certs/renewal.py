"""When to renew, and how long to wait after a failure. Pure: `now` comes in.

Renew once a third of the lifetime is left (certmagic's rule: a 90-day certificate is
renewed 30 days before it expires, leaving time for many retries), or inside the CA's
ARI window when it offers one (RFC 9773). Failures back off exponentially with jitter
from one minute to six hours, and never sooner than the CA's Retry-After.
"""

from __future__ import annotations

FIRST_RETRY_SECONDS = 60.0
MAX_RETRY_SECONDS = 6 * 3600.0


def renew_at(not_before: float, not_after: float, ari_start: float | None = None) -> float:
    lifetime = max(0.0, not_after - not_before)
    by_lifetime = not_after - lifetime / 3
    return min(by_lifetime, ari_start) if ari_start is not None else by_lifetime


def is_due(
    not_before: float, not_after: float, now: float, ari_start: float | None = None
) -> bool:
    return now >= renew_at(not_before, not_after, ari_start)


def retry_delay(failures: int, jitter: float, retry_after: float | None = None) -> float:
    """Seconds to wait after the `failures`-th failure in a row; `jitter` in [0, 1)."""
    base: float = min(
        MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2.0 ** min(32, max(0, failures - 1))
    )
    delay = base * (0.75 + 0.5 * jitter)  # ±25 %: many hosts failing together spread out
    delay = min(delay, MAX_RETRY_SECONDS)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
