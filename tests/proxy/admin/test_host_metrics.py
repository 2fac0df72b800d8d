"""Certificate and tracking-host states → `/metrics` samples. Pure."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from certs.store import CertState
from proxy.admin.host_metrics import certificate_families, host_families
from proxy.domains.status import HostStatus
from proxy.domains.store import TrackingHost
from redirector import metrics

Samples = dict[tuple[str, tuple[str, ...]], float]
H = "links.example.com"
FAILED = CertState(H, 1.0, 2.0, "CN=CA", 1.5, "timeout", 3, 1.7)
REFUSED = CertState(H, last_error="rejectedIdentifier", failures=1, blocked=True)


def samples(families: Iterable[Metric]) -> Samples:
    """Each sample's value by name and label values, host first (parsed text sorts them)."""
    order = ("host", "check", "state")
    return {
        (s.name, tuple(s.labels[k] for k in order if k in s.labels)): s.value
        for f in families
        for s in f.samples
    }


@pytest.mark.parametrize(
    ("state", "present", "expected"),
    [
        (  # never ordered: only the failure gauges, at 0
            CertState(H),
            False,
            {("trackway_certificate_renewal_failures", (H,)): 0,
             ("trackway_certificate_renewal_blocked", (H,)): 0},
        ),
        (  # issued by the manager: its dates
            CertState(H, 100.0, 200.0, "CN=CA", 150.0),
            True,
            {("trackway_certificate_expiry_timestamp_seconds", (H,)): 200,
             ("trackway_certificate_renew_at_timestamp_seconds", (H,)): 150,
             ("trackway_certificate_renewal_failures", (H,)): 0,
             ("trackway_certificate_renewal_blocked", (H,)): 0},
        ),
        (  # put there by hand: no renewal date of ours
            CertState(H, 100.0, 200.0, "CN=CA"),
            True,
            {("trackway_certificate_expiry_timestamp_seconds", (H,)): 200,
             ("trackway_certificate_renewal_failures", (H,)): 0,
             ("trackway_certificate_renewal_blocked", (H,)): 0},
        ),
        (  # renewals failing: the old certificate is still there
            FAILED,
            True,
            {("trackway_certificate_expiry_timestamp_seconds", (H,)): 2,
             ("trackway_certificate_renew_at_timestamp_seconds", (H,)): 1.5,
             ("trackway_certificate_renewal_failures", (H,)): 3,
             ("trackway_certificate_renewal_blocked", (H,)): 0},
        ),
        (  # its files gone, the state left: no expiry of a certificate not held
            FAILED,
            False,
            {("trackway_certificate_renewal_failures", (H,)): 3,
             ("trackway_certificate_renewal_blocked", (H,)): 0},
        ),
        (  # refused by the CA
            REFUSED,
            False,
            {("trackway_certificate_renewal_failures", (H,)): 1,
             ("trackway_certificate_renewal_blocked", (H,)): 1},
        ),
    ],
)  # fmt: skip
def test_certificate_samples(state: CertState, present: bool, expected: Samples) -> None:
    assert samples(certificate_families([state], {H} if present else set())) == expected


GREEN = HostStatus(H, "verified", "ok", "green", "green", f"https://{H}")
WRONG = HostStatus(H, "verified", "wrong", "unreachable", "off", "https://t.example.net", "x")


def checks(states: dict[str, str]) -> Samples:
    ok = {"ownership": "verified", "cname": "ok", "http": "green", "https": "green"}
    return {
        **{("trackway_domain_check_ok", (H, c)): float(s == ok[c]) for c, s in states.items()},
        **{("trackway_domain_check_state", (H, c, s)): 1.0 for c, s in states.items()},
    }


@pytest.mark.parametrize(
    ("status", "checked_at", "expected"),
    [
        (GREEN, 50.0, {
            **checks({"ownership": "verified", "cname": "ok", "http": "green", "https": "green"}),
            ("trackway_domain_checked_timestamp_seconds", (H,)): 50.0,
        }),
        (WRONG, 60.0, {
            **checks({"ownership": "verified", "cname": "wrong", "http": "unreachable",
                      "https": "off"}),
            ("trackway_domain_checked_timestamp_seconds", (H,)): 60.0,
        }),
        (None, None, checks(dict.fromkeys(("ownership", "cname", "http", "https"), "unchecked"))),
    ],
)  # fmt: skip
def test_host_samples(
    status: HostStatus | None, checked_at: float | None, expected: Samples
) -> None:
    host = TrackingHost(H, "example.com", "us", 1.0, None, status, checked_at)
    assert samples(host_families([host])) == expected


def test_the_text_is_prometheus_format_with_labels_escaped() -> None:
    odd = 'a"b\\c\nd'  # no host is named so, but a label is escaped whatever it holds
    families = [
        *certificate_families([CertState(odd, 1.0, 2.0)], {odd}),
        *host_families([TrackingHost(odd, "example.com", "us", 1.0, None, GREEN, 5.0)]),
    ]
    text = metrics.exposition(families).decode()
    assert "# TYPE trackway_certificate_expiry_timestamp_seconds gauge" in text
    assert 'trackway_certificate_expiry_timestamp_seconds{host="a\\"b\\\\c\\nd"} 2.0' in text
    parsed = samples(text_string_to_metric_families(text))
    assert parsed[("trackway_certificate_expiry_timestamp_seconds", (odd,))] == 2.0
    assert parsed[("trackway_domain_check_ok", (odd, "https"))] == 1.0
    assert parsed[("trackway_domain_checked_timestamp_seconds", (odd,))] == 5.0
