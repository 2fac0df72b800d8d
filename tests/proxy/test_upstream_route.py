"""Parsing a proxied host's upstream."""

from __future__ import annotations

import pytest

from config.errors import InvalidInput
from proxy.upstream import UpstreamRoute, parse_upstream


@pytest.mark.parametrize(
    ("url", "route"),
    [
        (
            "https://track.customer.io",
            UpstreamRoute("t.ex.com", "https", "track.customer.io", 443),
        ),
        ("http://mailgun.org/", UpstreamRoute("t.ex.com", "http", "mailgun.org", 80)),
        ("https://SPGO.io:8443", UpstreamRoute("t.ex.com", "https", "spgo.io", 8443)),
    ],
)
def test_an_upstream_is_a_scheme_a_host_and_a_port(url: str, route: UpstreamRoute) -> None:
    assert parse_upstream("t.ex.com", url) == route


@pytest.mark.parametrize(
    "url",
    ["track.customer.io", "ftp://x.example", "https://", "https://x.example/path",
     "https://x.example/?q=1", "https://user:pw@x.example", "https://x.example:99999"],
)  # fmt: skip
def test_anything_else_is_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        parse_upstream("t.ex.com", url)


def test_host_header_policies() -> None:
    route = parse_upstream("t.ex.com", "https://sendgrid.net", "upstream")
    assert route.host_header_value() == "sendgrid.net"
    assert parse_upstream("t.ex.com", "https://sendgrid.net").host_header_value() == "t.ex.com"
    assert route.upstream == "https://sendgrid.net"
    assert parse_upstream("t.ex.com", "http://up.test:8080", "upstream").host_header_value() == (
        "up.test:8080"
    )
    with pytest.raises(InvalidInput):
        parse_upstream("t.ex.com", "https://sendgrid.net", "other")
