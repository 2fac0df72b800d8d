"""`trackway certs list|show|renew`."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from certs.manager import CertManager
from config import Settings
from proxy.cli.output import CliError, iso_utc
from proxy.domains.names import DomainNameError, normalise
from proxy.domains.service import DomainService


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
        "running server answers the CA's HTTP-01 challenge from the data folder.",
    )
    renew.add_argument("host", metavar="HOST")
    renew.set_defaults(handler=renew_command)


def _host(name: str) -> str:
    try:
        return normalise(name)
    except DomainNameError as e:
        raise CliError(str(e)) from None


def _iso(ts: float | None) -> str:
    return "-" if ts is None else iso_utc(ts)


def _summary(settings: Settings, host: str) -> dict[str, Any]:
    service = DomainService(settings)
    try:
        return service.certificate(host)
    finally:
        service.close()


def _print(doc: dict[str, Any]) -> None:
    present = (
        "valid until " + _iso(doc.get("not_after")) if doc.get("present") else "no certificate"
    )
    print(f"{doc['host']}: {present}")
    if doc.get("present"):
        print(f"  issuer   {doc.get('issuer')}")
        print(f"  renews   {_iso(doc.get('renew_at'))}")
    if doc.get("last_error"):
        print(f"  last error: {doc['last_error']}")
        blocked = " (blocked by the CA)" if doc.get("blocked") else ""
        print(f"  next try {_iso(doc.get('next_attempt'))}{blocked}")


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    service = DomainService(settings)
    try:
        docs = [service.certificate(host) for host in service.certificate_hosts()]
    finally:
        service.close()
    if args.json:
        print(json.dumps(docs, indent=2))
    else:
        for doc in docs:
            _print(doc)
        if not docs:
            print("no tracking hosts yet")
    return 0


def show_command(args: argparse.Namespace, settings: Settings) -> int:
    doc = _summary(settings, _host(args.host))
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        _print(doc)
    return 0


def renew_command(args: argparse.Namespace, settings: Settings) -> int:
    host = _host(args.host)
    manager = CertManager(settings.data, settings.acme)
    try:
        state = asyncio.run(manager.ensure(host, force=True))
    finally:
        manager.close()
    _print(_summary(settings, host))
    return 0 if state.last_error is None else 1
