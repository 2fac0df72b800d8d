"""The client's address: X-Forwarded-For believed from trusted proxies only, right to left,
valid IP addresses only; the same on both paths."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from config import ClickSettings, ServerSettings, Settings
from proxy.serve.public_app import PublicService
from redirector.clicks.client_address import TrustedProxies, client_address, parse_address
from tests.support.clicks import ListenerClient, TokenMaker, stored, with_clicks, with_server

PublicClient = Callable[..., Awaitable[ListenerClient]]

PROXIES = TrustedProxies.from_settings(
    ServerSettings(trusted_proxies=("10.0.0.0/8", "2001:db8:ffff::/48", "127.0.0.1")),
    ClickSettings(),
)
ANY_PEER = TrustedProxies(any_peer=True)  # [clicks] trust_forwarded_for = true
NONE = TrustedProxies()


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "proxies", "expected"),
    [
        # Nothing to believe: the peer.
        ("203.0.113.7", ["198.51.100.1"], NONE, "203.0.113.7"),
        ("10.0.0.1", [], PROXIES, "10.0.0.1"),
        ("203.0.113.7", ["198.51.100.1"], PROXIES, "203.0.113.7"),  # not from a proxy
        # A proxy appended what it saw: the right-most entry not a proxy of ours.
        ("10.0.0.1", ["198.51.100.1"], PROXIES, "198.51.100.1"),
        ("10.0.0.1", ["6.6.6.6, 198.51.100.1"], PROXIES, "198.51.100.1"),
        ("10.0.0.1", ["6.6.6.6, 198.51.100.1, 10.1.2.3"], PROXIES, "198.51.100.1"),
        ("127.0.0.1", ["6.6.6.6", "198.51.100.1"], PROXIES, "198.51.100.1"),  # two headers
        ("127.0.0.1", ["6.6.6.6,198.51.100.1 , ,"], PROXIES, "198.51.100.1"),  # spaces, empty
        ("10.0.0.1", ["10.9.9.9, 10.1.2.3"], PROXIES, "10.9.9.9"),  # all ours: the first
        ("::ffff:10.0.0.1", ["198.51.100.1"], PROXIES, "198.51.100.1"),  # mapped peer
        # IPv6, ports and brackets as proxies write them.
        ("10.0.0.1", ["2001:DB8::0001"], PROXIES, "2001:db8::1"),
        ("10.0.0.1", ["[2001:db8::1]:8443"], PROXIES, "2001:db8::1"),
        ("10.0.0.1", ["[2001:db8::1]"], PROXIES, "2001:db8::1"),
        ("10.0.0.1", ["198.51.100.1:51234"], PROXIES, "198.51.100.1"),
        ("10.0.0.1", ["::ffff:198.51.100.1"], PROXIES, "198.51.100.1"),
        ("2001:db8:ffff::5", ["198.51.100.1, 2001:db8:ffff::9"], PROXIES, "198.51.100.1"),
        # Garbage is never stored: the peer instead.
        ("10.0.0.1", ["<script>alert(1)</script>"], PROXIES, "10.0.0.1"),
        ("10.0.0.1", ["198.51.100.1, unknown"], PROXIES, "10.0.0.1"),
        ("10.0.0.1", ["fe80::1%<script>"], PROXIES, "10.0.0.1"),
        ("10.0.0.1", ["198.51.100.1:http"], PROXIES, "10.0.0.1"),
        ("10.0.0.1", ["[2001:db8::1"], PROXIES, "10.0.0.1"),
        ("10.0.0.1", ["1.2.3.4.5"], PROXIES, "10.0.0.1"),
        ("10.0.0.1", ["\u0661.\u0662.\u0663.\u0664"], PROXIES, "10.0.0.1"),
        ("10.0.0.1", [", ,"], PROXIES, "10.0.0.1"),
        # trust_forwarded_for: every peer is a proxy; still the right-most entry.
        ("203.0.113.7", ["6.6.6.6, 198.51.100.1"], ANY_PEER, "198.51.100.1"),
        ("203.0.113.7", ["junk"], ANY_PEER, "203.0.113.7"),
    ],
)
def test_client_address(
    peer: str, forwarded_for: list[str], proxies: TrustedProxies, expected: str
) -> None:
    assert client_address(peer, forwarded_for, proxies) == expected
    assert ipaddress.ip_address(expected)


def test_only_addresses_parse() -> None:
    assert parse_address(" 192.0.2.1\t") == ipaddress.ip_address("192.0.2.1")
    for text in ("", "host.example", "192.0.2.1:", "192.0.2.1:²", "[::1]x", "::1%eth0"):
        assert parse_address(text) is None, text


async def test_both_paths_store_the_same_address(
    public_client: PublicClient, make_token: TokenMaker, settings: Settings
) -> None:
    settings = with_server(settings, trusted_proxies=("127.0.0.0/8",))
    client = await public_client(settings)
    cases = {
        "fast": ("6.6.6.6, 198.51.100.1", "198.51.100.1"),
        "query": ("6.6.6.6, 198.51.100.2", "198.51.100.2"),
        "garbage-fast": ("<script>", "127.0.0.1"),
        "garbage-query": ("<script>", "127.0.0.1"),
    }
    for recipient, (forwarded_for, _) in cases.items():
        query = "?x=1" if recipient.endswith("query") else ""  # aiohttp's path
        resp = await client.get(
            f"/c/{make_token(recipient_id=recipient)}{query}",
            allow_redirects=False,
            headers={"X-Forwarded-For": forwarded_for},
        )
        assert resp.status == 302
    rows = {row["recipient_id"]: row["client_ip"] for row in await stored(settings)}
    assert rows == {recipient: address for recipient, (_, address) in cases.items()}


async def test_trust_forwarded_for_keeps_working_from_the_right(
    public_client: PublicClient, make_token: TokenMaker, settings: Settings
) -> None:
    settings = with_clicks(settings, trust_forwarded_for=True)
    client = await public_client(settings)
    resp = await client.get(
        f"/c/{make_token()}",
        allow_redirects=False,
        headers={"X-Forwarded-For": "6.6.6.6, 1.2.3.4"},
    )
    assert resp.status == 302
    assert [row["client_ip"] for row in await stored(settings)] == ["1.2.3.4"]


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),  # an IPv4 client of an IPv6 listener
        ("::FFFF:198.51.100.7", "198.51.100.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("198.51.100.7", "198.51.100.7"),
    ],
)
def test_an_ipv4_client_of_an_ipv6_listener_is_stored_as_ipv4(peer: str, expected: str) -> None:
    """Stored as `::ffff:…`, an IPv4 client would be anonymised as IPv6 (a /48 of the
    mapped range: nothing kept) and counted apart from itself on an IPv4 listener."""
    assert client_address(peer, [], NONE) == expected
    assert client_address(peer, ["203.0.113.9"], NONE) == expected


async def test_both_paths_store_an_ipv4_client_of_an_ipv6_listener_as_ipv4(
    make_token: TokenMaker, settings: Settings
) -> None:
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)  # `--http [::]:PORT`
    sock.bind(("::", 0))
    sock.listen()
    service = PublicService(settings)
    await service.start()
    listener = await service.listen(sock)
    try:
        async with aiohttp.ClientSession() as client:
            for recipient, query in (("fast", ""), ("query", "?x=1")):  # aiohttp's path
                url = f"http://127.0.0.1:{sock.getsockname()[1]}/c/"
                token = make_token(recipient_id=recipient)
                async with client.get(url + token + query, allow_redirects=False) as resp:
                    assert resp.status == 302
    finally:
        listener.close()
        await service.close()
    rows = {row["recipient_id"]: row["client_ip"] for row in await stored(settings)}
    assert rows == {"fast": "127.0.0.1", "query": "127.0.0.1"}
