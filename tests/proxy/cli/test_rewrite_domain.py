"""`trackway rewrite --domain`: when the domain's tracking host cannot take https links,
stderr says where links go and why. Hosts' statuses are stored as `domains verify`
stores them (`host_status` of their checks), without running the checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.domains.status import DnsAnswer, HostChecks, HstsFinding, Probe, host_status
from proxy.domains.store import SendingDomain, SqliteDomainStore, TrackingHost
from tests.proxy.cli.test_cli import trackway

DEFAULT = "https://t.example.net"
HOST = "links.example.com"
BODY = b"<a href='https://shop.example.com/'>shop</a>"
NO_HTTPS = "https is off (nothing serves HTTPS for this host yet)"


def checked_domain(
    data: Path,
    https: Probe | None = None,
    hsts: tuple[HstsFinding, ...] = (),
    verified: bool = True,
) -> Path:
    """A data folder where example.com has links.example.com, checked with these
    results; its settings file."""
    store = SqliteDomainStore(data)
    try:
        store.put_domain(SendingDomain("example.com", "token", verified, 0.0))
        checks = HostChecks(
            HOST, "t.example.net", verified, DnsAnswer(("t.example.net",)), Probe(True),
            hsts, https, 0.0,
        )  # fmt: skip
        status = host_status(checks, DEFAULT)
        store.put_host(TrackingHost(HOST, "example.com", "us", 0.0, checks, status, 0.0))
    finally:
        store.close()
    config = data.parent / "trackway.toml"
    config.write_text('[regions]\nus = "t.example.net"\n')
    return config


def rewrite(data: Path, config: Path, *args: str) -> tuple[bytes, str]:
    done = trackway(
        "rewrite", "-", "--domain", "example.com", "--config", str(config), *args,
        data=data, stdin=BODY,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr.decode()


@pytest.mark.parametrize(
    ("https", "hsts", "verified", "base", "why"),
    [
        (None, (), True, f"http://{HOST}", f"{HOST} {NO_HTTPS}"),
        (
            Probe(False, "certificate has expired"),
            (),
            True,
            f"http://{HOST}",
            f"{HOST} https is failing (certificate has expired)",
        ),
        (
            None,
            (HstsFinding("example.com", "preload list", "preloaded"),),
            True,
            DEFAULT,
            f"{HOST} http is red (HSTS on example.com (preload list: preloaded): http links "
            f"would break); {NO_HTTPS}",
        ),
        (
            Probe(True),
            (),
            False,
            DEFAULT,
            "example.com ownership is unverified (not checked yet: run `trackway domains verify`)",
        ),
    ],
)
def test_links_off_https_on_the_domain_s_host_say_why(
    tmp_path: Path,
    https: Probe | None,
    hsts: tuple[HstsFinding, ...],
    verified: bool,
    base: str,
    why: str,
) -> None:
    data = tmp_path / "data"
    out, err = rewrite(data, checked_domain(data, https, hsts, verified))
    assert out.startswith(f"<a href='{base}/c/".encode())
    assert err == f"trackway: links use {base}: {why}\n"


def test_https_on_the_domain_s_host_or_a_base_given_says_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out, err = rewrite(data, checked_domain(data, https=Probe(True)))
    assert out.startswith(f"<a href='https://{HOST}/c/".encode())
    assert err == ""
    config = checked_domain(data)  # http only now, but the base is given
    out, err = rewrite(data, config, "--base-url", "https://x.example")
    assert out.startswith(b"<a href='https://x.example/c/")
    assert err == ""
