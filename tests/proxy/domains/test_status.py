"""Every row of the status table, as a table: no network, no loop."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.domains.hsts import StsPolicy, names_to_check, parse_sts
from proxy.domains.status import (
    DnsAnswer,
    HostChecks,
    HostStatus,
    HstsFinding,
    Probe,
    host_status,
)
from proxy.domains.store import TrackingHost

DEFAULT = "https://t.trackway.example"
OK_DNS = DnsAnswer(("t.trackway.example",))
HTTP_OK = Probe(True)
PRELOAD = HstsFinding("example.dev", "preload list", "preloaded")


def checks(
    dns: DnsAnswer = OK_DNS,
    http: Probe = HTTP_OK,
    hsts: tuple[HstsFinding, ...] = (),
    https: Probe | None = None,
    verified: bool = True,
) -> HostChecks:
    return HostChecks(
        "links.example.com", "t.trackway.example", verified, dns, http, hsts, https, 0.0
    )


@pytest.mark.parametrize(
    ("given", "cname", "http", "https", "link_base"),
    [
        (checks(), "ok", "green", "off", "http://links.example.com"),
        (checks(https=Probe(True)), "ok", "green", "green", "https://links.example.com"),
        (checks(https=Probe(False, "certificate has expired")), "ok", "green", "failing", "http://links.example.com"),
        (checks(hsts=(PRELOAD,)), "ok", "red", "off", DEFAULT),
        (checks(hsts=(PRELOAD,), https=Probe(True)), "ok", "red", "green", "https://links.example.com"),
        (checks(hsts=(PRELOAD,), https=Probe(False, "x")), "ok", "red", "failing", DEFAULT),
        (checks(dns=DnsAnswer()), "missing", "green", "off", DEFAULT),
        (checks(dns=DnsAnswer(("elsewhere.example.net",))), "wrong", "green", "off", DEFAULT),
        (checks(dns=DnsAnswer(error="SERVFAIL")), "error", "green", "off", DEFAULT),
        (checks(dns=DnsAnswer(("a.example.net", "t.trackway.example."))), "ok", "green", "off", "http://links.example.com"),
        (checks(http=Probe(False, "connection refused")), "ok", "unreachable", "off", DEFAULT),
        # Unverified: HTTP and HTTPS are not checked (no connection to the name).
        (checks(verified=False, https=Probe(True)), "ok", "unchecked", "unchecked", DEFAULT),
    ],
)  # fmt: skip
def test_status_table(
    given: HostChecks, cname: str, http: str, https: str, link_base: str
) -> None:
    status = host_status(given, DEFAULT)
    assert (status.cname, status.http, status.https, status.link_base) == (
        cname,
        http,
        https,
        link_base,
    )
    assert not status.link_base.endswith("/")
    if status.http == "red":
        assert "example.dev" in status.reasons["http"]
    if status.cname == "wrong":
        assert status.cname_target == "elsewhere.example.net"
        assert "elsewhere.example.net" in status.reasons["cname"]


def test_never_an_http_link_on_an_hsts_host() -> None:
    for https in (None, Probe(False, "x")):
        for dns in (OK_DNS, DnsAnswer()):
            status = host_status(checks(dns=dns, hsts=(PRELOAD,), https=https), DEFAULT)
            assert not status.link_base.startswith("http://links")


def test_checks_and_status_round_trip_through_json() -> None:
    given = checks(hsts=(PRELOAD,), https=Probe(False, "bad"))
    assert HostChecks.from_dict(given.as_dict()) == given
    status = host_status(given, DEFAULT)
    assert HostStatus.from_dict(status.as_dict()) == status


@pytest.mark.parametrize(
    ("given", "ready"),
    [
        (checks(), True),
        (checks(hsts=(PRELOAD,), https=Probe(False, "x")), True),  # HTTP-01 needs neither
        (checks(dns=DnsAnswer(("a.example.net", "t.trackway.example."))), True),
        (checks(verified=False), False),
        (checks(dns=DnsAnswer()), False),
        (checks(dns=DnsAnswer(("elsewhere.example.net",))), False),
        (checks(dns=DnsAnswer(error="SERVFAIL")), False),
        (checks(http=Probe(False, "connection refused")), False),
        (checks(verified=False, dns=DnsAnswer(), http=Probe(False)), False),
    ],
)
def test_ready_for_certificate(given: HostChecks, ready: bool) -> None:
    assert (given.certificate_obstacles() == ()) is ready
    # The same as the status says it: ownership verified, CNAME ok, and HTTP answered.
    status = host_status(given, DEFAULT)
    assert ready is (status.ownership == "verified" and status.cname == "ok" and given.http.ok)
    host = TrackingHost("links.example.com", "example.com", "us", 0.0, given, status, 0.0)
    assert host.ready_for_certificate() is ready


def test_an_unchecked_host_is_not_ready_for_a_certificate() -> None:
    assert not TrackingHost("links.example.com", "example.com", "us", 0.0).ready_for_certificate()


@pytest.mark.parametrize(
    ("header", "policy"),
    [
        ("max-age=31536000", StsPolicy(31536000, False)),
        ("max-age=31536000; includeSubDomains", StsPolicy(31536000, True)),
        ('MAX-AGE="600"; INCLUDESUBDOMAINS; preload', StsPolicy(600, True, True)),
        ("  max-age = 60 ;  includeSubDomains ; ", StsPolicy(60, True)),
        ("includeSubDomains; max-age=1", StsPolicy(1, True)),
        ("max-age=0; includeSubDomains", None),
        ("includeSubDomains", None),
        ("max-age=abc", None),
        ("max-age=1; max-age=2", None),
        ("max-age=1; includeSubDomains=yes", None),
        ("max-age=-5", None),
        ("max-age=1, includeSubDomains", None),
        ("", None),
        ('max-age="1; unknown=x"', None),  # the quoted value holds the `;`
        ('max-age=10; unknownDirective="a\\"b"', StsPolicy(10, False)),
    ],
)
def test_sts_header_parsing(header: str, policy: StsPolicy | None) -> None:
    assert parse_sts(header) == policy


def test_names_to_check() -> None:
    assert names_to_check("a.links.example.com") == [
        "a.links.example.com",
        "links.example.com",
        "example.com",
    ]
    assert names_to_check("example.com") == ["example.com"]


@given(st.text(max_size=200))
def test_sts_parsing_never_raises(header: str) -> None:
    policy = parse_sts(header)
    assert policy is None or policy.max_age > 0


@given(st.from_regex(r"[a-z0-9.-]{1,60}", fullmatch=True))
def test_names_to_check_are_the_host_and_its_parents(host: str) -> None:
    names = names_to_check(host)
    assert names[0] == host.lower().rstrip(".")
    assert all(names[0].endswith(n) for n in names)
