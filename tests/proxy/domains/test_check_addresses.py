"""Where the domain checks may connect (issue 11): a domain name is never an IP literal;
HTTP, HTTPS and HSTS are checked only once the sending domain's ownership is verified;
and never on a loopback, private, link-local or metadata address unless `[checks]
allowed_networks` allows it. The CNAME and TXT lookups are DNS, and always run."""

from __future__ import annotations

import ipaddress
import select
import socket
from typing import Any

import pytest

from config import CheckSettings, Settings
from proxy.domains.addresses import allowed_networks, refusal
from proxy.domains.checks import open_checker
from proxy.domains.errors import InvalidDomain
from proxy.domains.names import normalise
from proxy.domains.status import Probe
from tests.support.domain_world import US, add_and_verify

ALLOW_HINT = "(allow it with [checks] allowed_networks)"


@pytest.mark.parametrize(
    "name",
    [
        "127.0.0.1", "169.254.169.254", "10.0.0.5", "1.2.3.4.", "127.1", "0x7f.1",
        "0177.0.0.1", "::1", "[::1]", "fd00:ec2::254", "2130706433",
    ],
)  # fmt: skip
def test_an_ip_literal_is_no_domain_name(name: str) -> None:
    with pytest.raises(InvalidDomain, match=r"not a valid domain name|an IP address"):
        normalise(name)


@pytest.mark.parametrize(
    "name", ["links.example.com", "1.example.com", "123.45.example.net", "xn--caf-dma.example"]
)
def test_names_with_digits_are_still_names(name: str) -> None:
    assert normalise(name) == name


@pytest.mark.parametrize(
    ("address", "allowed", "refused_as"),
    [
        ("127.0.0.1", (), "a loopback address"),
        ("127.9.9.9", (), "a loopback address"),
        ("::1", (), "a loopback address"),
        ("10.0.0.5", (), "a private address"),
        ("172.16.3.4", (), "a private address"),
        ("192.168.1.1", (), "a private address"),
        ("fd12:3456::1", (), "a private address"),
        ("169.254.1.1", (), "a link-local address"),
        ("fe80::1", (), "a link-local address"),
        ("169.254.169.254", (), "a cloud metadata address"),
        ("fd00:ec2::254", (), "a cloud metadata address"),
        ("100.100.100.200", (), "a cloud metadata address"),
        ("100.64.0.1", (), "not a public address"),  # carrier-grade NAT
        ("0.0.0.0", (), "an unspecified address"),  # noqa: S104 - refused, not bound
        ("224.0.0.1", (), "a multicast address"),
        ("240.0.0.1", (), "a reserved address"),
        ("fec0::1", (), "a site-local address"),  # deprecated, still not public
        # IPv4 inside IPv6: mapped, 6to4, NAT64.
        ("::ffff:127.0.0.1", (), "a loopback address"),
        ("2002:a00:5::1", (), "a private address"),
        ("64:ff9b::a9fe:a9fe", (), "a cloud metadata address"),
        # Public: allowed.
        ("93.184.216.34", (), None),
        ("8.8.8.8", (), None),
        ("2606:4700::1111", (), None),
        # allowed_networks.
        ("127.0.0.1", ("127.0.0.0/8",), None),
        ("::ffff:127.0.0.1", ("127.0.0.0/8",), None),
        ("10.0.0.5", ("10.0.0.0/8",), None),
        ("10.0.0.5", ("127.0.0.0/8",), "a private address"),
        ("::1", ("127.0.0.0/8",), "a loopback address"),
        ("::1", ("::1/128",), None),
        ("169.254.169.254", ("10.0.0.0/8", "169.254.169.254/32"), None),
    ],
)
def test_which_addresses_the_checks_refuse(
    address: str, allowed: tuple[str, ...], refused_as: str | None
) -> None:
    assert refusal(address, allowed_networks(allowed)) == refused_as


def test_every_non_global_address_is_refused() -> None:
    """Whatever the list of special ranges: a sample of each /8 that is not global."""
    for first in range(256):
        address = ipaddress.ip_address(f"{first}.1.2.3")
        assert (refusal(str(address), ()) is None) == (
            address.is_global and not address.is_multicast
        ), address


async def test_checks_refuse_loopback_unless_allowed(world_factory: Any) -> None:
    world = await world_factory(allowed=())  # the world answers on 127.0.0.1
    world.dns.set_cname("links.example.com", US)
    status = await add_and_verify(world)
    assert (status["cname"], status["http"], status["https"]) == ("ok", "unreachable", "failing")
    for check in ("http", "https"):
        assert status["reasons"][check] == (
            f"links.example.com resolves to 127.0.0.1, a loopback address {ALLOW_HINT}"
        )
    with world.service() as service:
        assert await service.region_hosts_reaching_us() == []

    allowed = await world_factory()  # the same, with allowed_networks = ["127.0.0.0/8"]
    status = await add_and_verify(allowed)
    assert (status["cname"], status["http"]) == ("ok", "green")
    with allowed.service() as service:
        assert await service.region_hosts_reaching_us() == sorted(
            allowed.settings.regions.values()
        )


@pytest.mark.parametrize(
    ("address", "kind"),
    [("10.0.0.5", "a private address"), ("169.254.169.254", "a cloud metadata address")],
)
async def test_a_name_resolving_to_an_inner_address_is_refused(
    world_factory: Any, address: str, kind: str
) -> None:
    world = await world_factory()  # loopback allowed, nothing else
    world.dns.set_a("links.example.com", address)
    try:
        status = await add_and_verify(world)
    finally:
        world.dns.clear_a("links.example.com")
    reason = f"links.example.com resolves to {address}, {kind} {ALLOW_HINT}"
    assert (status["http"], status["reasons"]["http"]) == ("unreachable", reason)
    assert (status["https"], status["reasons"]["https"]) == ("failing", reason)


async def test_an_unverified_domain_gets_dns_checks_only(world_factory: Any) -> None:
    with socket.socket() as listener:  # the check ports: anyone connecting is seen
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        world = await world_factory(http_port=port, https_port=port)
        world.dns.set_cname("links.example.com", US)
        with world.service() as service:
            service.add("example.com", "links.example.com")
            (status,) = await service.verify("example.com")  # no TXT record
            description = service.describe("links.example.com").as_dict()
        assert select.select([listener], [], [], 0.2)[0] == []  # nobody connected
    assert (status.ownership, status.cname, status.http, status.https) == (
        "unverified",
        "ok",  # DNS: checked
        "unchecked",
        "unchecked",
    )
    why = "not checked until the ownership of example.com is verified"
    assert status.reasons["http"] == status.reasons["https"] == why
    assert description["certificate"] is None


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "169.254.169.254"])
async def test_an_address_as_the_host_is_refused_without_connecting(host: str) -> None:
    """A host stored before IP literals were refused: aiohttp connects to an address as it
    is, without the resolver, so the checker refuses it itself."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        checks = CheckSettings(http_port=listener.getsockname()[1], timeout=2)
        async with open_checker(Settings(checks=checks)) as checker:
            probe = await checker.probe(host, "token", use_tls=False)
        assert select.select([listener], [], [], 0.2)[0] == []
    address = host.strip("[]")
    kind = refusal(address, ())
    assert probe == Probe(False, f"{address} is {kind} {ALLOW_HINT}")
