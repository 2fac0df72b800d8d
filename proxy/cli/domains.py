"""`trackway domains add|verify|status|list|remove|proxy|app-links`."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from config import Settings
from proxy import app_links
from proxy.cli.output import CliError
from proxy.domains.descriptions import DomainDescription, HostDescription
from proxy.domains.service import TXT_PREFIX, open_domain_service
from proxy.domains.status import HostStatus
from proxy.domains.store import AppLinks
from proxy.upstream.route import HOST_HEADER_POLICIES


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    domains = commands.add_parser(
        "domains", help="custom tracking domains", description="Custom tracking domains."
    )
    actions = domains.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        parents=[common],
        help="add a sending domain and optionally a tracking host",
        description="Add a sending domain (proven by a TXT record) and optionally one of "
        "its tracking hosts (a CNAME to the region's default tracking host). Prints the DNS "
        "records to create, then checks them.",
    )
    add.add_argument("domain", metavar="SENDING_DOMAIN", help="e.g. example.com")
    add.add_argument("host", metavar="TRACKING_HOST", nargs="?", help="e.g. links.example.com")
    add.add_argument("--region", metavar="R", help="default: the first configured region")
    add.set_defaults(handler=add_command)
    verify = actions.add_parser(
        "verify",
        parents=[common],
        help="check DNS, HTTP, HSTS and HTTPS now",
        description="Check a sending domain and its hosts (or one host) now. Exits 1 "
        "unless ownership is verified and every host's CNAME is right.",
    )
    verify.add_argument("name", metavar="NAME")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(handler=verify_command)
    status = actions.add_parser(
        "status", parents=[common], help="the last checked status", description="Show the status."
    )
    status.add_argument("name", metavar="NAME")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=status_command)
    listing = actions.add_parser("list", parents=[common], help="list domains")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_command)
    remove = actions.add_parser(
        "remove",
        parents=[common],
        help="remove a tracking host or a sending domain",
        description="Remove a tracking host (new links use the default host at once) or a "
        "sending domain with its hosts. Links already sent keep working.",
    )
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(handler=remove_command)
    proxy = actions.add_parser(
        "proxy",
        parents=[common],
        help="forward a tracking host to an email platform, or stop",
        description="Put a tracking host in proxy mode: trackway serves its certificate "
        "and forwards every request (but its own checks and ACME) to the email platform's "
        "tracking host URL, e.g. https://track.customer.io; the platform makes its links. "
        "--off returns it to redirect mode (trackway's own links). The running server "
        "applies either within seconds. Then checks the host and shows its status.",
    )
    proxy.add_argument("host", metavar="TRACKING_HOST")
    target = proxy.add_mutually_exclusive_group(required=True)
    target.add_argument("--upstream", metavar="URL", help="http(s)://HOST[:PORT] of the platform")
    target.add_argument("--off", action="store_true", help="back to redirect mode")
    proxy.add_argument(
        "--host-header",
        choices=HOST_HEADER_POLICIES,
        help="Host sent upstream: custom (the tracking host; the default) or upstream "
        "(the platform's own name)",
    )
    proxy.add_argument("--json", action="store_true")
    proxy.set_defaults(handler=proxy_command)
    links = actions.add_parser(
        "app-links",
        parents=[common],
        help="the iOS and Android app-link files of a tracking host",
        description="Store the apple-app-site-association (--apple, a JSON object of at "
        "most 128 KB) and assetlinks.json (--android, a JSON array) files that a tracking "
        "host serves at /.well-known/apple-app-site-association, /apple-app-site-association "
        "and /.well-known/assetlinks.json, over HTTP and HTTPS, never redirected, in "
        "redirect and in proxy mode (where a file not set is the platform's to answer). "
        "A file not given is kept; --off removes both. The running server serves a change "
        "within seconds. Without options: what is stored.",
    )
    links.add_argument("host", metavar="TRACKING_HOST")
    links.add_argument("--apple", metavar="FILE", type=Path, help="apple-app-site-association")
    links.add_argument("--android", metavar="FILE", type=Path, help="assetlinks.json")
    links.add_argument("--off", action="store_true", help="remove both files")
    links.add_argument("--json", action="store_true")
    links.set_defaults(handler=app_links_command)


def add_command(args: argparse.Namespace, settings: Settings) -> int:
    with open_domain_service(settings) as service:
        domain, host = service.add(args.domain, args.host, args.region)
        print(f"sending domain {domain.name}: prove you own it with this DNS record")
        print(f'  _trackway.{domain.name}  TXT  "{TXT_PREFIX}{domain.token}"')
        if host is not None:
            target = settings.regions[host.region]
            print(f"tracking host {host.host} (region {host.region}): point it at trackway")
            print(f"  {host.host}  CNAME  {target}")
        statuses = asyncio.run(service.verify(domain.name))
    for status in statuses:
        _print_host(status)
    print(f"check again with: trackway domains verify {domain.name}")
    return 0


def verify_command(args: argparse.Namespace, settings: Settings) -> int:
    with open_domain_service(settings) as service:
        asyncio.run(service.verify(args.name))
        described = service.describe(args.name)
    _print(described, args.json)
    return 0 if described.dns_records_ok() else 1


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    with open_domain_service(settings) as service:
        described = service.describe(args.name)
    _print(described, args.json)
    return 0


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    with open_domain_service(settings) as service:
        domains = service.all_domains()
    if args.json:
        print(json.dumps([domain.as_dict() for domain in domains], indent=2))
        return 0
    if not domains:
        print("no domains; add one with: trackway domains add example.com links.example.com")
    for domain in domains:
        print(f"{domain.domain}  ownership {domain.ownership}")
        for host in domain.hosts:
            status = host.status
            print(
                f"  {status.host}  cname {status.cname}  http {status.http}  "
                f"https {status.https}  links {status.link_base}"
            )
    return 0


def remove_command(args: argparse.Namespace, settings: Settings) -> int:
    with open_domain_service(settings) as service:
        print(service.remove(args.name))
    return 0


def proxy_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.off and args.host_header:
        raise CliError("--host-header goes with --upstream, not with --off")
    with open_domain_service(settings) as service:
        if args.off:
            host = service.set_redirect(args.host)
        else:
            host = service.set_proxy(args.host, args.upstream, args.host_header or "custom")
        asyncio.run(service.verify(host.host))
        described = service.describe(host.host)
    _print(described, args.json)
    return 0


def app_links_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.off and (args.apple or args.android):
        raise CliError("--off removes both files: not with --apple or --android")
    apple = android = None  # each file checked before anything is stored
    if args.apple is not None:
        apple = app_links.apple_file(_read(args.apple), str(args.apple))
    if args.android is not None:
        android = app_links.android_file(_read(args.android), str(args.android))
    with open_domain_service(settings) as service:
        host = app_links.app_links_of(service.store, args.host)
        if args.off:
            host = app_links.put_app_links(service.store, host.host, AppLinks())
        elif apple is not None or android is not None:
            kept = host.app_links
            changed = AppLinks(
                kept.apple if apple is None else apple,
                kept.android if android is None else android,
            )
            host = app_links.put_app_links(service.store, host.host, changed)
    if args.json:
        print(json.dumps(app_links.as_dict(host.host, host.app_links), indent=2))
        return 0
    print(f"{host.host}: app links")
    files = (
        ("/.well-known/apple-app-site-association, /apple-app-site-association", "apple"),
        ("/.well-known/assetlinks.json", "android"),
    )
    for paths, which in files:
        text = getattr(host.app_links, which)
        if text is None:
            print(f"  {paths}: not set (--{which} FILE)")
            continue
        print(f"  {paths}: {len(text.encode())} bytes")
        print("    " + json.dumps(json.loads(text), indent=2).replace("\n", "\n    "))
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror or e}") from None


def _print(described: HostDescription | DomainDescription, as_json: bool) -> None:
    if as_json:
        print(json.dumps(described.as_dict(), indent=2))
        return
    if isinstance(described, HostDescription):
        _print_host(described.status)
        if described.mode == "proxy":
            check, why = described.status.upstream_check, described.status.reasons
            reason = why.get("upstream_check")
            print(f"  proxy  to {described.upstream}: {check}{f'  ({reason})' if reason else ''}")
        return
    print(f"{described.domain}: ownership {described.ownership}")
    if described.ownership_error:
        print(f"  {described.ownership_error}")
        txt = described.txt_record
        print(f'  expected: {txt.name}  TXT  "{txt.value}"')
    for host in described.hosts:
        _print_host(host.status)
    if not described.hosts:
        print(f"  no tracking host; links use {described.headline.link_base}")


def _print_host(status: HostStatus) -> None:
    print(f"{status.host}:")
    for check in ("cname", "http", "https"):
        reason = status.reasons.get(check)
        print(f"  {check:<6} {getattr(status, check)}{f'  ({reason})' if reason else ''}")
    print(f"  links  {status.link_base}")
