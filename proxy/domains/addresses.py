"""Which addresses the domain checks may connect to. Pure.

A tracking host's name is whoever added it's to choose, and so is what it resolves to:
the HTTP, HTTPS and HSTS checks must not become a way into this server's own network
(loopback, private networks, link-local addresses, the clouds' metadata services). So
they connect to globally routable addresses only, unless `[checks] allowed_networks`
allows more (tests on loopback allow 127.0.0.0/8). The ACME CA's validation is the CA's
connection to us, and not concerned.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_HINT = "allow it with [checks] allowed_networks"
# Instance metadata services (credentials live there): AWS, GCP, Azure, OpenStack …
# on 169.254.169.254, AWS on fd00:ec2::254 too, Alibaba Cloud on 100.100.100.200.
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def allowed_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The networks of `[checks] allowed_networks` (validated by the settings)."""
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def refusal(address: str, allowed: Sequence[IPNetwork]) -> str | None:
    """None when the checks may connect to `address`; else what it is ("a private
    address"). An IPv4 address inside an IPv6 one (mapped, 6to4, NAT64) is judged as
    the IPv4 address it reaches."""
    ip = ipaddress.ip_address(address.partition("%")[0])  # fe80::1%eth0: no zone
    judged = [ip, *_embedded(ip)]
    if any(a in net for a in judged for net in allowed if a.version == net.version):
        return None
    return next((kind for kind in map(_kind, reversed(judged)) if kind), None)


def refused(host: str, address: str, kind: str) -> str:
    """The reason a check gives when it does not connect."""
    if host == address:
        return f"{address} is {kind} ({ALLOW_HINT})"
    return f"{host} resolves to {address}, {kind} ({ALLOW_HINT})"


def _embedded(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip in _NAT64:
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def _kind(ip: IPAddress) -> str | None:
    # The most telling name first: a metadata address is link-local (or private) too.
    checks = (
        (ip in METADATA, "a cloud metadata address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "a site-local address"),
        (not ip.is_global, "not a public address"),
    )
    return next((kind for bad, kind in checks if bad), None)
