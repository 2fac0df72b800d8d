"""Which hosts `certs renew` may order a certificate for, from the stored checks: no
network, no CA."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from certs.store import CertState, CertStore
from config import Settings
from config.errors import Conflict, NotFound
from proxy.domains.errors import HostNotReady, InvalidDomain, UnknownDomain
from proxy.domains.service import open_domain_service
from proxy.domains.status import DnsAnswer, HstsFinding, Probe
from tests.support.domain_world import EU, US, store_checked_host

PRELOAD = HstsFinding("example.com", "preload list", "preloaded")


def settings_in(tmp_path: Path) -> Settings:
    return Settings(
        data=tmp_path / "data",
        regions={"us": US, "eu": EU},
        base_url="https://base.example.org",
        tracking_hosts=("listed.example.org",),
    )


def orderable(settings: Settings, name: str, force: bool = False) -> str:
    with open_domain_service(settings) as service:
        return service.orderable_host(name, force)


def test_a_ready_tracking_host_is_orderable(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    store_checked_host(settings, "links.example.com")
    assert orderable(settings, "Links.Example.com.") == "links.example.com"


@pytest.mark.parametrize(
    ("checks", "reason"),
    [
        ({"dns": DnsAnswer(("x.example.net",))}, f"CNAME points at x.example.net, not {US}"),
        ({"dns": DnsAnswer()}, f"no CNAME record; point links.example.com at {US}"),
        ({"dns": DnsAnswer(error="SERVFAIL")}, "DNS error: SERVFAIL"),
        ({"verified": False}, "the sending domain's TXT record is not verified"),
        ({"http": Probe(False, "connection refused")}, "HTTP check: connection refused"),
        ({"http": Probe(False)}, "HTTP check: no answer"),
        ({"checked_at": None}, "not checked yet"),
    ],
)
def test_a_tracking_host_not_ready_is_refused_with_the_reason(
    tmp_path: Path, checks: dict[str, object], reason: str
) -> None:
    settings = settings_in(tmp_path)
    store_checked_host(settings, "links.example.com", **checks)  # type: ignore[arg-type]
    with pytest.raises(HostNotReady) as refused:
        orderable(settings, "links.example.com")
    message = str(refused.value)
    assert message.startswith(f"links.example.com is not ready for a certificate: {reason}")
    assert "trackway domains verify links.example.com" in message
    assert "\n" not in message
    assert isinstance(refused.value, Conflict)
    assert orderable(settings, "links.example.com", force=True) == "links.example.com"


def test_every_failing_check_is_named(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    store_checked_host(settings, "links.example.com", verified=False, http=Probe(False, "timeout"))
    with pytest.raises(HostNotReady, match="not verified; HTTP check: timeout"):
        orderable(settings, "links.example.com")


def test_hsts_does_not_stop_an_order(tmp_path: Path) -> None:
    # HSTS turns the http status red, but the CA's plain-HTTP request still arrives; when
    # HTTP fails, the reason is the probe's, not the HSTS policy.
    settings = settings_in(tmp_path)
    store_checked_host(settings, "links.example.com", hsts=(PRELOAD,))
    assert orderable(settings, "links.example.com") == "links.example.com"
    store_checked_host(
        settings, "links.example.com", hsts=(PRELOAD,), http=Probe(False, "timeout")
    )
    with pytest.raises(HostNotReady, match=r"certificate: HTTP check: timeout \("):
        orderable(settings, "links.example.com")


@pytest.mark.parametrize("host", [US, EU, "base.example.org", "listed.example.org"])
def test_hosts_of_the_settings_are_orderable(tmp_path: Path, host: str) -> None:
    assert orderable(settings_in(tmp_path), host) == host


def test_a_host_with_a_certificate_and_no_record_is_orderable(
    tmp_path: Path, ca: trustme.CA
) -> None:
    settings = settings_in(tmp_path)
    issued = ca.issue_cert("old.example.net")
    chain = b"".join(blob.bytes() for blob in issued.cert_chain_pems)
    key = issued.private_key_pem.bytes()
    CertStore(settings.data).save("old.example.net", chain, key, CertState("old.example.net"))
    assert orderable(settings, "old.example.net") == "old.example.net"


def test_unknown_and_invalid_names(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    # a failed order left a state, but no certificate and no record: still unknown
    CertStore(settings.data).put_state(CertState("gone.example.com", failures=1))
    for name in ("nothing.example.com", "gone.example.com"):
        for force in (False, True):
            with pytest.raises(UnknownDomain, match=f"no tracking host or certificate {name}"):
                orderable(settings, name, force)
    assert issubclass(UnknownDomain, NotFound)
    with pytest.raises(InvalidDomain):
        orderable(settings, "not a host")
