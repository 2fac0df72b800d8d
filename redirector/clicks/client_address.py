"""The client's address: the peer's, or what a proxy of ours says it saw. Pure.

Each proxy appends the address it got the request from to `X-Forwarded-For`, so the
header reads `client, proxy1, proxy2` and the peer is the last proxy. Only what our
own proxies wrote can be believed: the right-most entries, read from the right while
they are trusted proxies. The first entry that is not one is the client; anything left
of it was written by the client (`6.6.6.6, 203.0.113.7`: the client sent `6.6.6.6`).

The header is read only from a trusted peer: one in `[server] trusted_proxies`, or any
peer with `[clicks] trust_forwarded_for = true` (every connection comes through a proxy
of yours). Only IP addresses are accepted: an entry that is not one gives the peer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from config import ClickSettings, ServerSettings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[Network, ...] = ()
    any_peer: bool = False  # every peer is a proxy of ours

    @classmethod
    def from_settings(cls, server: ServerSettings, clicks: ClickSettings) -> TrustedProxies:
        networks = tuple(ipaddress.ip_network(n, strict=False) for n in server.trusted_proxies)
        return cls(networks, clicks.trust_forwarded_for)

    def __contains__(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


def client_address(peer: str, forwarded_for: Sequence[str], proxies: TrustedProxies) -> str:
    """`forwarded_for`: every X-Forwarded-For value of the request, in order."""
    if peer[:7].lower() == "::ffff:":
        peer = plain_peer(peer)
    if not forwarded_for or not (proxies.any_peer or proxies.networks):
        return peer
    if not proxies.any_peer:
        peer_address = parse_address(peer)
        if peer_address is None or peer_address not in proxies:
            return peer
    entries = [entry for value in forwarded_for for entry in value.split(",")]
    client: Address | None = None
    for entry in reversed(entries):
        if not entry.strip(" \t"):
            continue  # an empty list element (RFC 9110 §5.6.1)
        client = parse_address(entry)
        if client is None:
            return peer
        if client not in proxies:
            break
    return peer if client is None else str(client)


def plain_peer(peer: str) -> str:
    """An IPv4 client of a dual-stack listener (`::ffff:192.0.2.1`) as IPv4, as it would
    be on an IPv4 listener: anonymised and counted as the same client."""
    address = parse_address(peer)
    return peer if address is None else str(address)


def parse_address(text: str) -> Address | None:
    """An IP address as proxies write it: `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`,
    `[2001:db8::1]:443`; IPv4-mapped IPv6 as IPv4. None for anything else."""
    text = text.strip(" \t")
    if text.startswith("["):
        text, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port[0] == ":" and _is_port(port[1:]))):
            return None
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
        if not _is_port(port):
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:  # `fe80::1%zone`: a zone may be any text
            return None
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
    return address


def _is_port(text: str) -> bool:
    return text.isascii() and text.isdigit()
