"""What the CLI and the admin API show of a sending domain, a tracking host and a
certificate. Pure.

Each has one `as_dict()`: the JSON of the admin API and of `--json`, which callers rely on,
so its keys and their order stay as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from certs.store import CertState
from proxy.domains.status import UNCHECKED, HostStatus

# A sending domain shows these of its first host's status at the top of its JSON too, so
# that they are there whether the name given was a domain or a host.
HEADLINE = ("cname", "http", "https", "link_base", "reasons")


@dataclass(frozen=True)
class CertificateSummary:
    present: bool
    not_after: float | None
    issuer: str | None
    renew_at: float | None
    last_error: str | None
    next_attempt: float | None
    blocked: bool

    @classmethod
    def of(cls, state: CertState, present: bool) -> CertificateSummary | None:
        """None while a host has no certificate and no order for one has failed."""
        if not present and state.last_error is None:
            return None
        return cls(
            present=present,
            not_after=state.not_after,
            issuer=state.issuer,
            renew_at=state.renew_at,
            last_error=state.last_error,
            next_attempt=state.next_attempt,
            blocked=state.blocked,
        )


@dataclass(frozen=True)
class HostCertificate:
    host: str
    summary: CertificateSummary | None

    def as_dict(self) -> dict[str, Any]:
        summary = asdict(self.summary) if self.summary else {"present": False}
        return {"host": self.host, **summary}


@dataclass(frozen=True)
class CnameRecord:
    name: str
    target: str | None  # None: the host's region is no longer configured


@dataclass(frozen=True)
class TxtRecord:
    name: str
    value: str


def unchecked_status(host: str, link_base: str, proxied: bool = False) -> HostStatus:
    """What a host shows before its first check."""
    reasons = {"checks": "not checked yet: run `trackway domains verify`"}
    return HostStatus(
        host, "unverified", "missing", "unreachable", "off", link_base, None, reasons,
        UNCHECKED if proxied else None,
    )  # fmt: skip


@dataclass(frozen=True)
class HostDescription:
    status: HostStatus  # its fields are the top of the JSON
    sending_domain: str
    region: str
    cname_record: CnameRecord
    checked_at: float | None
    certificate: CertificateSummary | None
    mode: str = "redirect"  # "redirect" | "proxy"
    upstream: str | None = None  # where a proxied host's requests go
    # Why no certificate would be ordered now (TrackingHost.certificate_obstacles); not
    # in the JSON, whose `reasons` say it.
    certificate_obstacles: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The status's fields, then the rest; the mode's three together at the end."""
        doc = asdict(self)
        doc.pop("certificate_obstacles")
        status = doc.pop("status")
        upstream_check = status.pop("upstream_check")
        return {**status, **doc, "upstream_check": upstream_check}

    def dns_records_ok(self) -> bool:
        return self.status.ownership == "verified" and self.status.cname == "ok"


@dataclass(frozen=True)
class DomainDescription:
    domain: str
    ownership: str  # "verified" | "unverified"
    txt_record: TxtRecord
    ownership_error: str | None
    hosts: tuple[HostDescription, ...]
    headline: HostStatus  # the first host's status, or an unchecked one without hosts

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        headline = doc.pop("headline")
        return {
            **{key: headline[key] for key in HEADLINE},
            **doc,
            "hosts": [host.as_dict() for host in self.hosts],
        }

    def dns_records_ok(self) -> bool:
        """Ownership proven and every host's CNAME right (HTTP and HTTPS may follow)."""
        return self.ownership == "verified" and all(h.status.cname == "ok" for h in self.hosts)
