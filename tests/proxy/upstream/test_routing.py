"""Who answers a request, by host and path: tables."""

from __future__ import annotations

import pytest

from proxy.upstream.routing import (
    APP_LINK_PATHS,
    CLICKS,
    FORWARD,
    MISDIRECTED,
    TO_HTTPS,
    decide,
    request_host,
)

OWN = ("/.well-known/acme-challenge/", "/.well-known/trackway/check/", *APP_LINK_PATHS)


@pytest.mark.parametrize(
    ("authority", "host"),
    [
        ("links.example.com", "links.example.com"),
        ("Links.Example.COM:8443", "links.example.com"),
        ("links.example.com.", "links.example.com"),
        ("[2001:DB8::1]:443", "2001:db8::1"),
        ("[::1]", "::1"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("", ""),
    ],
)
def test_request_host(authority: str, host: str) -> None:
    assert request_host(authority) == host


@pytest.mark.parametrize(
    ("path", "scheme", "proxied", "ours", "redirect_http", "verdict"),
    [
        # A proxied host: everything forwarded but trackway's own paths.
        ("/c/AQtoken", "https", True, True, False, FORWARD),
        ("/o/AQtoken", "https", True, True, False, FORWARD),
        ("/ls/click?upn=x", "http", True, True, False, FORWARD),
        ("/healthz", "https", True, True, False, FORWARD),
        ("/", "https", True, True, False, FORWARD),
        ("/.well-known/acme-challenge/tok", "http", True, True, True, CLICKS),
        ("/.well-known/trackway/check/tok", "http", True, True, False, CLICKS),
        # App-link files the host has not set: the platform's, as any other path.
        ("/.well-known/apple-app-site-association", "http", True, True, True, TO_HTTPS),
        ("/apple-app-site-association", "https", True, True, False, FORWARD),
        ("/.well-known/assetlinks.json", "https", True, True, False, FORWARD),
        ("/apple-app-site-association-not", "https", True, True, False, FORWARD),
        ("/.well-known/other", "https", True, True, False, FORWARD),
        # redirect_http: plain HTTP answered with a 308, but for the own paths above.
        ("/c/AQtoken", "http", True, True, True, TO_HTTPS),
        ("/c/AQtoken", "https", True, True, True, FORWARD),
        # One of our redirect-mode hosts: trackway's click routes, as today.
        ("/c/AQtoken", "https", False, True, False, CLICKS),
        ("/anything", "http", False, True, True, CLICKS),
        # Not one of ours: trackway's own paths and health only.
        ("/c/AQtoken", "https", False, False, False, MISDIRECTED),
        ("/", "http", False, False, False, MISDIRECTED),
        ("/healthz", "http", False, False, False, CLICKS),
        ("/.well-known/acme-challenge/tok", "http", False, False, False, CLICKS),
        ("/.well-known/trackway/check/tok", "http", False, False, False, CLICKS),
        ("/.well-known/assetlinks.json", "http", False, False, False, CLICKS),
        # Redirect mode: trackway's files, set or not (404).
        ("/.well-known/assetlinks.json", "http", False, True, True, CLICKS),
    ],
)
def test_decide(
    path: str, scheme: str, proxied: bool, ours: bool, redirect_http: bool, verdict: str
) -> None:
    got = decide(
        path,
        scheme=scheme,
        proxied=proxied,
        ours=ours,
        own_paths=OWN,
        redirect_http=redirect_http,
    )
    assert got == verdict


@pytest.mark.parametrize("path", APP_LINK_PATHS)
@pytest.mark.parametrize(
    ("scheme", "redirect_http"), [("http", True), ("https", True), ("http", False)]
)
def test_a_proxied_hosts_app_link_file_once_set_is_trackways_never_redirected(
    path: str, scheme: str, redirect_http: bool
) -> None:
    got = decide(
        path,
        scheme=scheme,
        proxied=True,
        ours=True,
        own_paths=OWN,
        redirect_http=redirect_http,
        app_link_set=True,
    )
    assert got == CLICKS
