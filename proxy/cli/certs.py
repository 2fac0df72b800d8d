"""`trackway certs list|show|renew`."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from config import Settings
from proxy.cli.output import iso_utc
from proxy.domains.descriptions import HostCertificate
from proxy.domains.names import normalise
from proxy.domains.service import open_domain_service, renew_certificate


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    certs = commands.add_parser("certs", help="HTTPS certificates", description="Certificates.")
    actions = certs.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common], help="every host's certificate")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_command)
    show = actions.add_parser("show", parents=[common], help="one host's certificate")
    show.add_argument("host", metavar="HOST")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_command)
    renew = actions.add_parser(
        "renew",
        parents=[common],
        help="order a certificate now",
        description="Order a new certificate for HOST now, whatever its renewal date. The "
        "running server answers the CA's HTTP-01 challenge from the data folder. A tracking "
        "host must be ready by its last checks (sending domain verified, CNAME and HTTP "
        "passing); a region's default host, or another host with a certificate that is no "
        "tracking host, always is.",
    )
    renew.add_argument("host", metavar="HOST")
    renew.add_argument(
        "--force",
        action="store_true",
        help="order even when the host's last checks say the CA cannot validate it",
    )
    renew.set_defaults(handler=renew_command)


def _iso(ts: float | None) -> str:
    return "-" if ts is None else iso_utc(ts)


def _certificate(settings: Settings, host: str) -> HostCertificate:
    with open_domain_service(settings) as service:
        return service.certificate(host)


def _print(certificate: HostCertificate) -> None:
    summary = certificate.summary
    present = "no certificate"
    if summary is not None and summary.present:
        present = "valid until " + _iso(summary.not_after)
    print(f"{certificate.host}: {present}")
    if summary is None:
        return
    if summary.present:
        print(f"  issuer   {summary.issuer}")
        print(f"  renews   {_iso(summary.renew_at)}")
    if summary.last_error:
        print(f"  last error: {summary.last_error}")
        blocked = " (blocked by the CA)" if summary.blocked else ""
        print(f"  next try {_iso(summary.next_attempt)}{blocked}")


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    with open_domain_service(settings) as service:
        certificates = [service.certificate(host) for host in service.certificate_hosts()]
    if args.json:
        print(json.dumps([c.as_dict() for c in certificates], indent=2))
    else:
        for certificate in certificates:
            _print(certificate)
        if not certificates:
            print("no tracking hosts yet")
    return 0


def show_command(args: argparse.Namespace, settings: Settings) -> int:
    certificate = _certificate(settings, normalise(args.host))
    if args.json:
        print(json.dumps(certificate.as_dict(), indent=2))
    else:
        _print(certificate)
    return 0


def renew_command(args: argparse.Namespace, settings: Settings) -> int:
    state = asyncio.run(renew_certificate(settings, args.host, args.force))
    _print(_certificate(settings, state.host))
    return 0 if state.last_error is None else 1
