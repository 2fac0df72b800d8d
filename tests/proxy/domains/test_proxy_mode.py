"""A tracking host's proxy mode without the network: its status as a table, how it is
stored (an older `domains.db` too), the service's changes and refusals, the links of a
proxied domain."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from config import Settings
from config.errors import Conflict, InvalidInput, NotFound
from proxy.domains.link_bases import domain_link_base
from proxy.domains.service import open_domain_service
from proxy.domains.status import DnsAnswer, HostChecks, Probe, host_status
from proxy.domains.store import SendingDomain, SqliteDomainStore, TrackingHost
from proxy.upstream.route import UpstreamRoute
from tests.support.domain_world import US, store_checked_host

DEFAULT = "https://t.trackway.example"
HOST = "links.example.com"
UP = "https://track.customer.io"
REFUSED = Probe(False, "ClientConnectorError: connection refused")
OK = Probe(True)


def checks(
    https: Probe | None = OK, upstream: Probe | None = OK, verified: bool = True
) -> HostChecks:
    return HostChecks(
        HOST, US, verified, DnsAnswer((US,)), Probe(True), (), https, 0.0, upstream
    )  # fmt: skip


@pytest.mark.parametrize(
    ("given", "proxied", "https", "upstream_check", "reason"),
    [
        # Redirect mode: no upstream check, whatever is stored.
        (checks(), False, "green", None, None),
        (checks(upstream=REFUSED), False, "green", None, None),
        # Proxy mode: https green only with the upstream reached.
        (checks(), True, "green", "ok", None),
        (checks(upstream=REFUSED), True, "failing", "failing", REFUSED.error),
        (checks(upstream=None), True, "failing", "unchecked", "not checked yet"),
        (checks(https=None, upstream=REFUSED), True, "off", "failing", REFUSED.error),
        (checks(https=Probe(False, "x"), upstream=Probe(True)), True, "failing", "ok", None),
        # Unverified: nothing connected to, the upstream neither.
        (checks(verified=False, upstream=Probe(False, "not checked until")), True,
         "unchecked", "unchecked", "not checked until"),
    ],
)  # fmt: skip
def test_status_of_a_proxied_host(
    given: HostChecks, proxied: bool, https: str, upstream_check: str | None, reason: str | None
) -> None:
    status = host_status(given, DEFAULT, proxied)
    assert (status.https, status.upstream_check) == (https, upstream_check)
    assert status.reasons.get("upstream_check", "").startswith(reason or "")
    assert ("upstream_check" in status.reasons) is (reason is not None)
    if https == "failing" and upstream_check != "ok" and given.https and given.https.ok:
        assert f"upstream check is {upstream_check}" in status.reasons["https"]
    assert HostChecks.from_dict(given.as_dict()) == given


def test_older_stored_checks_and_status_read_as_redirect_mode() -> None:
    doc = checks().as_dict()
    del doc["upstream"]  # as a release before proxy mode stored them
    assert HostChecks.from_dict(doc).upstream is None
    status = host_status(checks(), DEFAULT).as_dict()
    del status["upstream_check"]
    assert host_status(checks(), DEFAULT) == type(host_status(checks(), DEFAULT)).from_dict(status)


def test_an_older_domains_db_gains_the_columns_its_hosts_in_redirect_mode(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    old = sqlite3.connect(data / "domains.db")
    old.execute(
        "CREATE TABLE tracking_hosts (host TEXT PRIMARY KEY, sending_domain TEXT, region TEXT,"
        " created_at FLOAT, checks TEXT, status TEXT, checked_at FLOAT)"
    )
    old.execute("INSERT INTO tracking_hosts (host, sending_domain, region, created_at) "
                "VALUES ('links.example.com', 'example.com', 'us', 1.0)")  # fmt: skip
    old.commit()
    old.close()
    stores = [SqliteDomainStore(data), SqliteDomainStore(data)]  # the second finds them added
    try:
        host = stores[1].host(HOST)
        assert host is not None
        assert (host.mode, host.upstream, host.host_header, host.route()) == (
            "redirect", None, "custom", None
        )  # fmt: skip
        stores[0].put_host(TrackingHost(HOST, "example.com", "us", 1.0, mode="proxy", upstream=UP))
        assert stores[1].host(HOST) == TrackingHost(
            HOST, "example.com", "us", 1.0, mode="proxy", upstream=UP
        )
    finally:
        for store in stores:
            store.close()


def test_set_proxy_and_back_keeps_the_last_checks(tmp_path: Path) -> None:
    settings = Settings(data=tmp_path / "data", regions={"us": US})
    store_checked_host(settings, HOST, https=Probe(True))
    with open_domain_service(settings) as service:
        assert service.proxy_routes() == {}
        host = service.set_proxy("Links.Example.com.", "HTTPS://Track.Customer.io:443/")
        assert (host.mode, host.upstream, host.host_header) == ("proxy", UP, "custom")
        assert service.proxy_routes() == {
            HOST: UpstreamRoute(HOST, "https", "track.customer.io", 443)
        }
        doc = service.describe(HOST).as_dict()
        # Its certificate was served at the last check, but this upstream is not checked.
        assert (doc["mode"], doc["upstream"], doc["upstream_check"], doc["https"]) == (
            "proxy", UP, "unchecked", "failing"
        )  # fmt: skip
        assert doc["cname"] == "ok"  # the other checks stand
        service.set_proxy(HOST, "http://eu.mailgun.org:8080", "upstream")
        (route,) = service.proxy_routes().values()
        assert (route.upstream, route.host_header_value()) == (
            "http://eu.mailgun.org:8080", "eu.mailgun.org:8080"  # a Host names a port not 80
        )  # fmt: skip
        host = service.set_redirect(HOST)
        assert (host.mode, host.upstream, host.host_header) == ("redirect", None, "custom")
        doc = service.describe(HOST).as_dict()
        assert (doc["mode"], doc["upstream"], doc["upstream_check"], doc["https"]) == (
            "redirect", None, None, "green"
        )  # fmt: skip
        assert service.proxy_routes() == {}


@pytest.mark.parametrize(
    ("name", "upstream", "host_header", "kind", "message"),
    [
        ("nope.example.com", UP, "custom", NotFound, "no tracking host nope.example.com"),
        ("example.com", UP, "custom", NotFound, "no tracking host example.com"),
        (HOST, "track.customer.io", "custom", InvalidInput, r"expected http\(s\)://HOST"),
        (HOST, "ftp://track.customer.io", "custom", InvalidInput, r"expected http\(s\)://HOST"),
        (HOST, "https://track.customer.io/e/x", "custom", InvalidInput, "only a scheme"),
        (HOST, "https://track.customer.io:99999", "custom", InvalidInput, "not a URL"),
        (HOST, UP, "sometimes", InvalidInput, "--host-header: one of custom, upstream"),
    ],
)
def test_set_proxy_refuses_bad_input_and_stores_nothing(
    tmp_path: Path, name: str, upstream: str, host_header: str, kind: type, message: str
) -> None:
    settings = Settings(data=tmp_path / "data", regions={"us": US})
    store_checked_host(settings, HOST)
    with open_domain_service(settings) as service:
        service.store.put_domain(SendingDomain("example.com", "t", True, 0.0))
        with pytest.raises(kind, match=message):
            service.set_proxy(name, upstream, host_header)
        assert service.describe(HOST).as_dict()["mode"] == "redirect"
        with pytest.raises(NotFound, match="add it with"):
            service.set_redirect("nope.example.com")


def test_a_stored_upstream_that_is_none_is_skipped_not_fatal(tmp_path: Path) -> None:
    settings = Settings(data=tmp_path / "data", regions={"us": US})
    with open_domain_service(settings) as service:
        service.store.put_host(TrackingHost("a.example.com", "example.com", "us", 0.0,
                                            mode="proxy", upstream="nonsense"))  # fmt: skip
        service.store.put_host(TrackingHost("b.example.com", "example.com", "us", 0.0,
                                            mode="proxy", upstream=UP))  # fmt: skip
        assert list(service.proxy_routes()) == ["b.example.com"]


def test_no_links_of_trackway_on_a_proxied_host() -> None:
    domain = SendingDomain("example.com", "token", True, 0.0)
    status = host_status(checks(), DEFAULT, proxied=True)
    proxied = TrackingHost(HOST, "example.com", "us", 0.0, checks(), status, 0.0, "proxy", UP)
    with pytest.raises(Conflict, match=r"links.example.com is in proxy mode.*made by the email"):
        domain_link_base(domain, [proxied], DEFAULT)
    # Another host of the domain, in redirect mode, still makes its links.
    other = TrackingHost("go.example.com", "example.com", "us", 0.0)
    base = domain_link_base(domain, [proxied, other], DEFAULT)
    assert (base.url, base.reason) == (DEFAULT, "go.example.com is not checked yet: run "
                                       "`trackway domains verify`")  # fmt: skip
