"""Where a sending domain's new links go, and why they are not https on its tracking
host when they are not: a sender who asked for the domain's links learns why they look
otherwise. Pure: from the domain's stored records, its hosts' modes and last status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proxy.domains.errors import HostProxied
from proxy.domains.status import UNCHECKED, HostStatus
from proxy.domains.store import SendingDomain, TrackingHost

# The checks that can keep links off a host, in the order they are said.
_CHECKS = ("ownership", "cname", "http", "https")
_VERIFY = "run `trackway domains verify`"


@dataclass(frozen=True)
class LinkBase:
    url: str
    reason: str | None = None  # why not https on the tracking host; None: they are


def host_link_base(status: HostStatus) -> LinkBase:
    """The host's link base, with the checks that keep it off https on the host: only
    https when its links use http on it, every failing one when they use the default."""
    if status.link_base == f"https://{status.host}":
        return LinkBase(status.link_base)
    checks = ("https",) if status.link_base == f"http://{status.host}" else _CHECKS
    failing = [
        f"{check} is {getattr(status, check)} ({status.reasons[check]})"
        for check in checks
        if check in status.reasons and getattr(status, check) != UNCHECKED
    ]
    return LinkBase(status.link_base, f"{status.host} {'; '.join(failing) or 'is not ready'}")


def domain_link_base(
    domain: SendingDomain, hosts: Sequence[TrackingHost], default: str
) -> LinkBase:
    """The first checked host's link base while the domain's ownership is verified;
    else `default` (the region's default host), saying why. Hosts in proxy mode make no
    links of trackway's: HostProxied when all its hosts are."""
    if hosts and all(h.proxied for h in hosts):
        raise HostProxied(
            f"{domain.name}'s tracking host {hosts[0].host} is in proxy mode: its links are "
            f"made by the email platform at {hosts[0].upstream}, not by trackway "
            f"(`trackway domains proxy {hosts[0].host} --off` makes them trackway's again)"
        )
    hosts = [h for h in hosts if not h.proxied]
    if not hosts:
        return LinkBase(default, f"{domain.name} has no tracking host")
    if not domain.verified:
        why = domain.last_error or f"not checked yet: {_VERIFY}"
        return LinkBase(default, f"{domain.name} ownership is unverified ({why})")
    status = next((h.status for h in hosts if h.status is not None), None)
    if status is None:
        return LinkBase(default, f"{hosts[0].host} is not checked yet: {_VERIFY}")
    return host_link_base(status)
