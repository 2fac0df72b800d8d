"""When to renew and how long to wait after a failure. Pure."""

from __future__ import annotations

import datetime

import pytest

from certs.acme_issuer import RATE_LIMIT_DEFAULT_SECONDS, rate_limit_wait
from certs.renewal import FIRST_RETRY_SECONDS, MAX_RETRY_SECONDS, is_due, renew_at, retry_delay


def test_renewal_rules() -> None:
    day = 86400.0
    assert renew_at(0, 90 * day) == 60 * day  # a third of the lifetime left
    assert renew_at(0, 90 * day, ari_start=50 * day) == 50 * day
    assert not is_due(0, 90 * day, 59 * day)
    assert is_due(0, 90 * day, 60 * day)
    delays = [retry_delay(n, 0.5) for n in range(1, 20)]
    assert delays[0] == FIRST_RETRY_SECONDS
    assert delays == sorted(delays)
    assert max(delays) == MAX_RETRY_SECONDS
    assert retry_delay(1, 0.0) < retry_delay(1, 0.99)  # jitter spreads retries
    assert retry_delay(1, 0.5, retry_after=3600) == 3600  # the CA's Retry-After wins


def test_rate_limit_waits_for_what_the_ca_says() -> None:
    now = 1_799_000_000.0
    then = datetime.datetime(2027, 1, 15, 8, tzinfo=datetime.UTC).timestamp()
    detail = "too many certificates (5) already issued: retry after 2027-01-15 08:00:00 UTC"
    assert rate_limit_wait(detail, now) == pytest.approx(then - now)
    assert rate_limit_wait("slow down; Retry-After: 120", now) == 120
    assert rate_limit_wait("no hint here", now) == RATE_LIMIT_DEFAULT_SECONDS
    assert rate_limit_wait("retry after 2000-01-01T00:00:00Z", now) == 60  # at least a minute
