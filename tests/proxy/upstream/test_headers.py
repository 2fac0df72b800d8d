"""The forwarded headers, both ways: tables."""

from __future__ import annotations

import ipaddress

import pytest

from proxy.upstream.headers import (
    Headers,
    our_proxy_status,
    request_headers,
    response_headers,
)
from redirector.clicks import TrustedProxies

PROXIES = TrustedProxies((ipaddress.ip_network("10.0.0.0/8"),))
CLIENT = [("User-Agent", "Mozilla/5.0"), ("Cookie", "a=1; b=2"), ("Accept", "*/*")]


def forwarded(headers: Headers, peer: str = "203.0.113.7", scheme: str = "https") -> Headers:
    return request_headers(
        headers,
        host_header="links.example.com",
        custom_host="links.example.com",
        scheme=scheme,
        peer=peer,
        proxies=PROXIES,
    )


def test_the_client_headers_are_kept_and_the_forwarding_ones_set() -> None:
    assert forwarded([("Host", "links.example.com:443"), *CLIENT]) == [
        ("Host", "links.example.com"),
        *CLIENT,
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "links.example.com"),
    ]


@pytest.mark.parametrize(
    "hop",
    [
        ("Connection", "keep-alive"),
        ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"),
        ("Proxy-Authorization", "Basic eDp5"),
        ("Proxy-Anything", "x"),
        ("TE", "trailers"),
        ("Trailer", "Expires"),
        ("Transfer-Encoding", "chunked"),
        ("Upgrade", "websocket"),
    ],
)
def test_hop_by_hop_headers_are_removed_both_ways(hop: tuple[str, str]) -> None:
    assert hop not in forwarded([hop, *CLIENT])
    assert response_headers([hop, ("Location", "https://x.example/")]) == [
        ("Location", "https://x.example/")
    ]


def test_headers_named_in_connection_are_removed_both_ways() -> None:
    headers = [("Connection", "close, X-Secret ,"), ("x-secret", "1"), ("X-Other", "2")]
    assert [n for n, _ in forwarded(headers)] == ["Host", "X-Other", *_FORWARDING]
    assert response_headers(headers) == [("X-Other", "2")]


_FORWARDING = ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"]


@pytest.mark.parametrize(
    ("peer", "incoming", "expected"),
    [
        # A client's own claim is replaced by what trackway saw.
        ("203.0.113.7", ["6.6.6.6"], "203.0.113.7"),
        # A proxy of ours: its list goes on, with the proxy appended.
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1, 10.1.2.3"),
        ("10.1.2.3", ["198.51.100.1", "10.9.9.9"], "198.51.100.1, 10.9.9.9, 10.1.2.3"),
        ("10.1.2.3", [], "10.1.2.3"),
        ("::ffff:10.1.2.3", ["198.51.100.1"], "198.51.100.1, ::ffff:10.1.2.3"),
    ],
)
def test_x_forwarded_for(peer: str, incoming: list[str], expected: str) -> None:
    headers = [("X-Forwarded-For", value) for value in incoming]
    out = dict(forwarded(headers, peer=peer))
    assert out["X-Forwarded-For"] == expected


@pytest.mark.parametrize("peer", ["203.0.113.7", "10.1.2.3"])
def test_proto_and_host_are_what_trackway_saw(peer: str) -> None:
    headers = [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "evil.example")]
    out = forwarded(headers, peer=peer, scheme="http")
    assert [(n, v) for n, v in out if n.lower() != "x-forwarded-for"] == [
        ("Host", "links.example.com"),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Host", "links.example.com"),
    ]


def test_forwarded_and_x_real_ip_only_from_our_proxies() -> None:
    headers = [("Forwarded", "for=6.6.6.6"), ("X-Real-IP", "6.6.6.6")]
    assert not {"Forwarded", "X-Real-IP"} & {n for n, _ in forwarded(headers)}
    from_proxy = forwarded(headers, peer="10.0.0.1")
    assert {"Forwarded", "X-Real-IP"} <= {n for n, _ in from_proxy}


def test_every_peer_trusted() -> None:
    out = request_headers(
        [("X-Forwarded-For", "198.51.100.1")],
        host_header="t.esp.example",
        custom_host="links.example.com",
        scheme="https",
        peer="192.0.2.1",
        proxies=TrustedProxies(any_peer=True),
    )
    assert out[0] == ("Host", "t.esp.example")
    assert dict(out)["X-Forwarded-For"] == "198.51.100.1, 192.0.2.1"


def test_response_headers_keep_repeats_and_cookies() -> None:
    headers = [
        ("Set-Cookie", "a=1; Secure"),
        ("Set-Cookie", "b=2"),
        ("Content-Encoding", "gzip"),
        ("Cache-Control", "private"),
        ("Location", "https://dest.example/?q=%20"),
    ]
    assert response_headers(headers) == headers


def test_our_proxy_status_member_goes_after_the_upstreams() -> None:
    headers = [("Proxy-Status", "cdn; error=connection_timeout"), ("X-A", "1")]
    out = response_headers(headers, 504)
    assert out == [*headers, ("Proxy-Status", "trackway; received-status=504")]
    assert our_proxy_status(value for name, value in out if name == "Proxy-Status") == {
        "received-status": "504"
    }


@pytest.mark.parametrize(
    ("values", "ours"),
    [
        ([], None),
        (["cdn; error=x"], None),
        (["trackway; error=connection_refused"], {"error": "connection_refused"}),
        (['trackway; error="dns_error"'], {"error": "dns_error"}),
        (["trackway; received-status=200", "trackway; error=x"], {"error": "x"}),  # nearest
        (["trackwayz; received-status=200"], None),
    ],
)
def test_our_proxy_status(values: list[str], ours: dict[str, str] | None) -> None:
    assert our_proxy_status(values) == ours
