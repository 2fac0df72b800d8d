"""Where a sending domain's new links go, and why not https on its tracking host: a
table, no network."""

from __future__ import annotations

import pytest

from proxy.domains.link_bases import LinkBase, domain_link_base, host_link_base
from proxy.domains.status import DnsAnswer, HostChecks, HstsFinding, Probe, host_status
from proxy.domains.store import SendingDomain, TrackingHost

DEFAULT = "https://t.trackway.example"
HOST = "links.example.com"
NO_HTTPS = "https is off (nothing serves HTTPS for this host yet)"
PRELOAD = HstsFinding("example.com", "preload list", "preloaded")
HTTP_OK = Probe(True)
HSTS = "http is red (HSTS on example.com (preload list: preloaded): http links would break)"


def host(
    cname: tuple[str, ...] = ("t.trackway.example",),
    http: Probe = HTTP_OK,
    hsts: tuple[HstsFinding, ...] = (),
    https: Probe | None = None,
    verified: bool = True,
    checked: bool = True,
) -> TrackingHost:
    checks = HostChecks(
        HOST, "t.trackway.example", verified, DnsAnswer(cname), http, hsts, https, 0.0
    )
    status = host_status(checks, DEFAULT) if checked else None
    return TrackingHost(HOST, "example.com", "us", 0.0, checks, status, 0.0)


def domain(verified: bool = True, last_error: str | None = None) -> SendingDomain:
    return SendingDomain("example.com", "token", verified, 0.0, None, last_error)


@pytest.mark.parametrize(
    ("tracking", "expected"),
    [
        (host(https=Probe(True)), LinkBase(f"https://{HOST}")),
        (host(), LinkBase(f"http://{HOST}", f"{HOST} {NO_HTTPS}")),
        (
            host(https=Probe(False, "certificate has expired")),
            LinkBase(f"http://{HOST}", f"{HOST} https is failing (certificate has expired)"),
        ),
        (host(hsts=(PRELOAD,)), LinkBase(DEFAULT, f"{HOST} {HSTS}; {NO_HTTPS}")),
        (
            host(cname=()),
            LinkBase(
                DEFAULT,
                f"{HOST} cname is missing (no CNAME record; point {HOST} at "
                f"t.trackway.example); {NO_HTTPS}",
            ),
        ),
        (
            host(http=Probe(False, "connection refused")),
            LinkBase(DEFAULT, f"{HOST} http is unreachable (connection refused); {NO_HTTPS}"),
        ),
        (
            host(verified=False, https=Probe(True)),
            LinkBase(
                DEFAULT,
                f"{HOST} ownership is unverified (the sending domain's TXT record is not verified)",
            ),
        ),
    ],
)
def test_a_host_s_link_base_says_why_not_https_on_it(
    tracking: TrackingHost, expected: LinkBase
) -> None:
    assert tracking.status is not None
    assert host_link_base(tracking.status) == expected
    assert domain_link_base(domain(), [tracking], DEFAULT) == expected


def test_a_domain_without_a_ready_host_says_why() -> None:
    assert domain_link_base(domain(), [], DEFAULT) == LinkBase(
        DEFAULT, "example.com has no tracking host"
    )
    unverified = domain(verified=False, last_error="no TXT record at _trackway.example.com")
    assert domain_link_base(unverified, [host(https=Probe(True))], DEFAULT) == LinkBase(
        DEFAULT, "example.com ownership is unverified (no TXT record at _trackway.example.com)"
    )
    assert domain_link_base(domain(verified=False), [host()], DEFAULT) == LinkBase(
        DEFAULT,
        "example.com ownership is unverified (not checked yet: run `trackway domains verify`)",
    )
    assert domain_link_base(domain(), [host(checked=False)], DEFAULT) == LinkBase(
        DEFAULT, f"{HOST} is not checked yet: run `trackway domains verify`"
    )
