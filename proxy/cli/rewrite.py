"""`trackway rewrite`: rewrite an email body's links, body to stdout, report as JSON."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from config import Settings
from proxy.cli.output import UNDECODABLE_NOTE, CliError, json_bytes
from proxy.senders import link_base, rewriter_for
from redirector import SendContext
from redirector.links.ids import new_ulid


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    rewrite = commands.add_parser(
        "rewrite",
        parents=[common],
        help="rewrite the links of an email body",
        description="Rewrite every trackable link of an HTML (or, with --text, plain-text) "
        "body to a signed tracked link. The body goes to stdout with every other byte "
        "unchanged; the report (every link found, tracked or why not) goes to --report.",
    )
    rewrite.add_argument("file", metavar="FILE|-", help="the body; - reads standard input")
    rewrite.add_argument(
        "--base-url",
        metavar="URL",
        help="tracking base, e.g. https://links.example.com (default: the base_url setting)",
    )
    rewrite.add_argument(
        "--domain",
        metavar="SENDING_DOMAIN",
        help="take the tracking base from this sending domain's status (--base-url wins); "
        "when its links cannot be https on its tracking host, stderr says where they go "
        "and why",
    )
    rewrite.add_argument("--message-id", metavar="ID", help="default: a new ULID")
    rewrite.add_argument("--recipient", metavar="ID", default="", help="recipient id")
    rewrite.add_argument("--text", action="store_true", help="the body is plain text")
    rewrite.add_argument(
        "--utm",
        metavar="k=v",
        nargs="+",
        action="extend",
        default=[],
        help="parameters added to each destination unless it already has them",
    )
    rewrite.add_argument(
        "--report",
        metavar="FILE",
        type=Path,
        help=f"write the report, UTF-8 JSON: every link found; in it, {UNDECODABLE_NOTE}",
    )
    rewrite.add_argument(
        "--open-pixel", action="store_true", help="insert an open-tracking pixel (HTML)"
    )
    rewrite.set_defaults(handler=rewrite_command)


def parse_utm(pairs: list[str]) -> dict[str, str]:
    utm: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CliError(f"--utm expects k=v, got {pair!r}")
        utm[name] = value
    return utm


def rewrite_command(args: argparse.Namespace, settings: Settings) -> int:
    base = link_base(settings, args.domain, args.base_url)
    if base.reason:
        print(f"trackway: links use {base.url}: {base.reason}", file=sys.stderr)
    rewriter = rewriter_for(settings, base_url=base.url)
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as e:
        raise CliError(f"cannot read {args.file}: {e.strerror}") from None
    # surrogateescape keeps bytes that are not UTF-8 (other charsets) exactly as they were.
    body = raw.decode("utf-8", "surrogateescape")
    now = time.time()
    ctx = SendContext(
        args.message_id or new_ulid(int(now * 1000)), args.recipient, int(now), parse_utm(args.utm)
    )
    if args.text:
        result = rewriter.rewrite_text(body, ctx)
    else:
        result = rewriter.rewrite_html(body, ctx, open_pixel=args.open_pixel)
    sys.stdout.buffer.write(result.body.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()
    if args.report:
        doc = {"message_id": ctx.message_id, "recipient_id": ctx.recipient_id, **result.report()}
        try:
            args.report.write_bytes(json_bytes(doc))
        except OSError as e:
            raise CliError(f"cannot write {args.report}: {e.strerror}") from None
    return 0
