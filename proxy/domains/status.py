"""The status of a tracking host, recomputed from its check results. Pure.

`link_base` is what new links use: https on the custom host when HTTPS is green; http
on it when the CNAME is right, HTTP answers and no HSTS policy covers the name; else the
region's default tracking host. Never an http link on a host that HSTS covers.

A host in proxy mode has one more check, `upstream_check`: whether its upstream answers
a request as the forwarder sends it, and, once trackway serves HTTPS for the host,
whether a request to `https://host/` through trackway reaches it. Its `https` is green
only when that is `ok` too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# A check not run: http and https while the sending domain's ownership is unverified
# (nothing connects to a name before it is shown to be the sender's); every check of a
# host not checked yet, in `/metrics`.
UNCHECKED = "unchecked"

GREEN, RED, GREY = "green", "red", "grey"
# Each check's states by colour, for the admin page's lights and `/metrics` (green: 1);
# any other state is red. Grey: not checked, or nothing to check yet (no certificate is
# served before one is issued).
CHECK_COLOURS = {
    "ownership": {"verified": GREEN},
    "cname": {"ok": GREEN},
    "http": {"green": GREEN, UNCHECKED: GREY},
    "https": {"green": GREEN, "off": GREY, UNCHECKED: GREY},
    "upstream_check": {"ok": GREEN, UNCHECKED: GREY},
}


def check_colour(check: str, state: str) -> str:
    return CHECK_COLOURS[check].get(state, RED)


@dataclass(frozen=True)
class DnsAnswer:
    chain: tuple[str, ...] = ()  # CNAME targets, in the order followed
    error: str | None = None  # "SERVFAIL", "timeout", "NXDOMAIN" …


@dataclass(frozen=True)
class HstsFinding:
    domain: str
    source: str  # "preload list" or "header"
    policy: str

    def describe(self) -> str:
        return f"HSTS on {self.domain} ({self.source}: {self.policy})"


@dataclass(frozen=True)
class Probe:
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class HostChecks:
    host: str
    expected_target: str  # the region's default tracking host
    ownership_verified: bool
    dns: DnsAnswer
    http: Probe
    hsts: tuple[HstsFinding, ...]
    https: Probe | None  # None: nothing serves HTTPS for the host
    checked_at: float
    upstream: Probe | None = None  # None: not checked (redirect mode, or since it changed)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> HostChecks:
        return cls(
            host=doc["host"],
            expected_target=doc["expected_target"],
            ownership_verified=bool(doc["ownership_verified"]),
            dns=DnsAnswer(tuple(doc["dns"]["chain"]), doc["dns"]["error"]),
            http=Probe(**doc["http"]),
            hsts=tuple(HstsFinding(**h) for h in doc["hsts"]),
            https=None if doc["https"] is None else Probe(**doc["https"]),
            checked_at=float(doc["checked_at"]),
            upstream=Probe(**doc["upstream"]) if doc.get("upstream") else None,
        )

    @property
    def cname_ok(self) -> bool:
        """The CNAME chain reaches the region's default host (directly or further on)."""
        return any(_same(name, self.expected_target) for name in self.dns.chain)

    def certificate_obstacles(self) -> tuple[str, ...]:
        """The checks failing of those an HTTP-01 order needs: the owner proven
        (`ownership`), and the CA's request reaching this server (`cname` to us, our
        `http` answering). HSTS and HTTPS do not matter."""
        needed = {
            "ownership": self.ownership_verified,
            "cname": self.cname_ok,
            "http": self.http.ok,
        }
        return tuple(check for check, ok in needed.items() if not ok)


@dataclass(frozen=True)
class HostStatus:
    host: str
    ownership: str  # "verified" | "unverified"
    cname: str  # "ok" | "missing" | "wrong" | "error"
    http: str  # "green" | "red" | "unreachable" | "unchecked" (ownership unverified)
    https: str  # "green" | "off" | "failing" | "unchecked" (ownership unverified)
    link_base: str
    cname_target: str | None = None
    reasons: dict[str, str] = field(default_factory=dict)  # per check, why it is not green
    upstream_check: str | None = None  # "ok" | "failing" | "unchecked"; None: redirect mode

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> HostStatus:
        return cls(**doc)


def _same(a: str, b: str) -> bool:
    return a.lower().rstrip(".") == b.lower().rstrip(".")


def host_status(checks: HostChecks, default_base: str, proxied: bool = False) -> HostStatus:
    reasons: dict[str, str] = {}
    ownership = "verified" if checks.ownership_verified else "unverified"
    if not checks.ownership_verified:
        reasons["ownership"] = "the sending domain's TXT record is not verified"

    dns = checks.dns
    target = dns.chain[0] if dns.chain else None
    if checks.cname_ok:
        cname = "ok"
    elif dns.error is not None:
        cname = "error"
        reasons["cname"] = f"DNS error: {dns.error}"
    elif not dns.chain:
        cname = "missing"
        reasons["cname"] = f"no CNAME record; point {checks.host} at {checks.expected_target}"
    else:
        cname = "wrong"
        reasons["cname"] = f"CNAME points at {target}, not {checks.expected_target}"

    if not checks.ownership_verified:  # not connected to: see DomainService._check_host
        http = UNCHECKED
        reasons["http"] = checks.http.error or "not checked"
    elif checks.hsts:
        http = "red"
        reasons["http"] = "; ".join(f.describe() for f in checks.hsts) + ": http links would break"
    elif checks.http.ok:
        http = "green"
    else:
        http = "unreachable"
        reasons["http"] = checks.http.error or "no answer"

    if not checks.ownership_verified:
        https = UNCHECKED
        reasons["https"] = (checks.https and checks.https.error) or "not checked"
    elif checks.https is None:
        https = "off"
        reasons["https"] = "nothing serves HTTPS for this host yet"
    elif checks.https.ok:
        https = "green"
    else:
        https = "failing"
        reasons["https"] = checks.https.error or "no answer"

    upstream_check = None
    if proxied:
        upstream_check = _upstream_check(checks, reasons)
        if https == "green" and upstream_check != "ok":
            https = "failing"
            reasons["https"] = (
                f"the certificate is served, but the upstream check is {upstream_check}"
            )

    if not checks.ownership_verified:
        link_base = default_base
    elif https == "green":
        link_base = f"https://{checks.host}"
    elif cname == "ok" and http == "green":
        link_base = f"http://{checks.host}"
    else:
        link_base = default_base
    return HostStatus(
        checks.host, ownership, cname, http, https, link_base, target, reasons, upstream_check
    )


def _upstream_check(checks: HostChecks, reasons: dict[str, str]) -> str:
    probe = checks.upstream
    if probe is None or not checks.ownership_verified:
        not_yet = "not checked yet: run `trackway domains verify`"
        reasons["upstream_check"] = probe.error if probe and probe.error else not_yet
        return UNCHECKED
    if probe.ok:
        return "ok"
    reasons["upstream_check"] = probe.error or "no answer"
    return "failing"
