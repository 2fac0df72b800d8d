"""The JSON of a tracking host, a sending domain and a certificate, as the admin API and
`--json` give it: its keys, their values and their order. Pure."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from certs.store import CertState
from proxy.domains.descriptions import (
    CertificateSummary,
    CnameRecord,
    DomainDescription,
    HostCertificate,
    HostDescription,
    TxtRecord,
    unchecked_status,
)
from proxy.domains.status import HostStatus

NOT_CHECKED = {"checks": "not checked yet: run `trackway domains verify`"}
OFF = {"https": "nothing serves HTTPS for this host yet"}
STATUS = HostStatus(
    "links.example.com", "verified", "ok", "green", "off", "http://links.example.com",
    "t.trackway.example", OFF,
)  # fmt: skip
SUMMARY = CertificateSummary(True, 200.0, "CN=Pebble", 150.0, None, None, False)
HOST = HostDescription(
    STATUS, "example.com", "us", CnameRecord("links.example.com", "t.trackway.example"), 10.0,
    SUMMARY,
)  # fmt: skip
SUMMARY_JSON = {
    "present": True, "not_after": 200.0, "issuer": "CN=Pebble", "renew_at": 150.0,
    "last_error": None, "next_attempt": None, "blocked": False,
}  # fmt: skip
HOST_JSON = {
    "host": "links.example.com", "ownership": "verified", "cname": "ok", "http": "green",
    "https": "off", "link_base": "http://links.example.com",
    "cname_target": "t.trackway.example", "reasons": OFF,
    "sending_domain": "example.com", "region": "us",
    "cname_record": {"name": "links.example.com", "target": "t.trackway.example"},
    "checked_at": 10.0, "certificate": SUMMARY_JSON,
    "mode": "redirect", "upstream": None, "upstream_check": None,
}  # fmt: skip
TXT = TxtRecord("_trackway.example.com", "trackway-verification=t0k")
TXT_JSON = {"name": "_trackway.example.com", "value": "trackway-verification=t0k"}


def same(doc: dict[str, Any], expected: dict[str, Any]) -> bool:
    return doc == expected and list(doc) == list(expected)


def test_a_host() -> None:
    assert same(HOST.as_dict(), HOST_JSON)
    assert HOST.dns_records_ok()


def test_a_domain_shows_its_first_host_at_the_top() -> None:
    domain = DomainDescription("example.com", "verified", TXT, None, (HOST,), STATUS)
    expected = {
        "cname": "ok", "http": "green", "https": "off", "link_base": "http://links.example.com",
        "reasons": OFF, "domain": "example.com", "ownership": "verified",
        "txt_record": TXT_JSON, "ownership_error": None, "hosts": [HOST_JSON],
    }  # fmt: skip
    assert same(domain.as_dict(), expected)
    assert domain.dns_records_ok()


def test_a_domain_without_hosts() -> None:
    headline = unchecked_status("example.com", "https://t.trackway.example")
    domain = DomainDescription("example.com", "unverified", TXT, "no TXT", (), headline)
    expected = {
        "cname": "missing", "http": "unreachable", "https": "off",
        "link_base": "https://t.trackway.example", "reasons": NOT_CHECKED,
        "domain": "example.com", "ownership": "unverified", "txt_record": TXT_JSON,
        "ownership_error": "no TXT", "hosts": [],
    }  # fmt: skip
    assert same(domain.as_dict(), expected)
    assert not domain.dns_records_ok()


def test_an_unchecked_host() -> None:
    status = unchecked_status("links.example.com", "https://t.trackway.example")
    host = HostDescription(
        status, "example.com", "eu", CnameRecord("links.example.com", None), None, None
    )
    expected = {
        "host": "links.example.com", "ownership": "unverified", "cname": "missing",
        "http": "unreachable", "https": "off", "link_base": "https://t.trackway.example",
        "cname_target": None, "reasons": NOT_CHECKED, "sending_domain": "example.com",
        "region": "eu", "cname_record": {"name": "links.example.com", "target": None},
        "checked_at": None, "certificate": None,
        "mode": "redirect", "upstream": None, "upstream_check": None,
    }  # fmt: skip
    assert same(host.as_dict(), expected)
    assert not host.dns_records_ok()


def test_a_proxied_host_shows_its_mode_upstream_and_check_at_the_end() -> None:
    unchecked = unchecked_status("links.example.com", "https://t.trackway.example", True)
    assert unchecked.upstream_check == "unchecked"
    failing = replace(
        STATUS, https="failing", upstream_check="failing",
        reasons={"upstream_check": "ClientConnectorError: refused"},
    )  # fmt: skip
    host = replace(HOST, status=failing, mode="proxy", upstream="https://track.customer.io")
    doc = host.as_dict()
    assert list(doc)[-3:] == ["mode", "upstream", "upstream_check"]
    assert (doc["mode"], doc["upstream"], doc["upstream_check"], doc["https"]) == (
        "proxy",
        "https://track.customer.io",
        "failing",
        "failing",
    )
    assert doc["reasons"] == {"upstream_check": "ClientConnectorError: refused"}


def test_certificates() -> None:
    assert same(
        HostCertificate("a.example.com", None).as_dict(),
        {"host": "a.example.com", "present": False},
    )
    shown = HostCertificate("links.example.com", SUMMARY).as_dict()
    assert same(shown, {"host": "links.example.com", **SUMMARY_JSON})


def test_a_summary_once_there_is_a_certificate_or_an_error() -> None:
    assert CertificateSummary.of(CertState("a.example.com"), present=False) is None
    failed = CertState("a.example.com", last_error="boom", failures=2, next_attempt=9.0)
    assert CertificateSummary.of(failed, present=False) == CertificateSummary(
        False, None, None, None, "boom", 9.0, False
    )
    valid = CertState("a.example.com", 100.0, 200.0, "CN=Pebble", 150.0)
    assert CertificateSummary.of(valid, present=True) == SUMMARY
