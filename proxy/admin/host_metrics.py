"""What `/metrics` says of certificates and tracking hosts. Pure: states in, families out.

The admin listener reads the states from the data folder at each scrape, so every value
is what is stored now, whichever process of `serve` (or command) stored it; nothing is
counted in a process. Every value is a gauge, labelled by host:

- `trackway_certificate_expiry_timestamp_seconds`: notAfter of each certificate held;
- `trackway_certificate_renew_at_timestamp_seconds`: when its renewal is due;
- `trackway_certificate_renewal_failures`: orders failed in a row (0 after a success);
- `trackway_certificate_renewal_blocked`: 1 when the CA refuses the name for good;
- `trackway_domain_check_ok{check}`: 1 when the check is green, for ownership, cname,
  http and https; `trackway_domain_check_state{check,state}` names the state;
- `trackway_domain_checked_timestamp_seconds`: when the host was last checked.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from certs.store import CertState
from proxy.domains.status import GREEN, UNCHECKED, check_colour
from proxy.domains.store import TrackingHost

# The checks of a host said here; green ones count 1 (proxy/domains/status.py).
CHECKS = ("ownership", "cname", "http", "https")
# A host not checked yet (`serve` checks every host as it starts): no check is known to
# pass, so each counts as failing, with the state UNCHECKED, as http and https do while
# the ownership is unverified.


def certificate_families(states: Iterable[CertState], present: Collection[str]) -> list[Metric]:
    """`states` of every host with a certificate or an order; `present`: the hosts whose
    certificate and key are in the data folder (a state may outlive them)."""
    expiry = _gauge(
        "trackway_certificate_expiry_timestamp_seconds", "When the certificate expires (notAfter)"
    )
    renew_at = _gauge(
        "trackway_certificate_renew_at_timestamp_seconds",
        "When the certificate is due for renewal",
    )
    failures = _gauge(
        "trackway_certificate_renewal_failures",
        "Certificate orders (first or renewal) failed in a row; 0 after a success",
    )
    blocked = _gauge(
        "trackway_certificate_renewal_blocked", "1 when the CA refuses the name: no more orders"
    )
    for state in states:
        if state.host in present and state.not_after is not None:
            expiry.add_metric([state.host], state.not_after)
            if state.renew_at is not None:
                renew_at.add_metric([state.host], state.renew_at)
        failures.add_metric([state.host], state.failures)
        blocked.add_metric([state.host], float(state.blocked))
    return [expiry, renew_at, failures, blocked]


def host_families(hosts: Iterable[TrackingHost]) -> list[Metric]:
    """The last check results of every tracking host."""
    ok = _gauge(
        "trackway_domain_check_ok",
        "1 when the tracking host's check (ownership, cname, http, https) is green",
        ["host", "check"],
    )
    state = _gauge(
        "trackway_domain_check_state",
        "The state of the tracking host's check, as its label (value always 1)",
        ["host", "check", "state"],
    )
    checked = _gauge(
        "trackway_domain_checked_timestamp_seconds", "When the tracking host was last checked"
    )
    for host in hosts:
        for check in CHECKS:
            value = UNCHECKED if host.status is None else str(getattr(host.status, check))
            ok.add_metric([host.host, check], float(check_colour(check, value) == GREEN))
            state.add_metric([host.host, check, value], 1.0)
        if host.checked_at is not None:
            checked.add_metric([host.host], host.checked_at)
    return [ok, state, checked]


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels or ["host"])
