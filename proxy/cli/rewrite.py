"""`trackway rewrite`: rewrite an email body's links, body to stdout, report as JSON."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from config import Settings
from proxy.cli.output import UNDECODABLE_NOTE, CliError, json_bytes, warn
from proxy.senders import link_base, rewriter_for
from redirector import RewriteResult, SendContext
from redirector.links.ids import new_ulid
from redirector.rewrite import not_text


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    rewrite = commands.add_parser(
        "rewrite",
        parents=[common],
        help="rewrite the links of an email body",
        description="Rewrite every trackable link of an HTML (or, with --text, plain-text) "
        "body to a signed tracked link. The body goes to stdout with every other byte "
        "unchanged; the report (every link found, tracked or why not) goes to --report. "
        "The body may be UTF-8 or a charset in which ASCII is ASCII (Latin-1, "
        "Windows-1252, ISO-8859-x...). A body that is not such text (UTF-16 or UTF-32, "
        "NUL bytes, an image, an archive) is written out unchanged, no link rewritten, "
        "no pixel added; that, and a body in which no link is found or none is tracked, "
        "is said in a line on stderr, and the exit status is 0 all the same.",
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
        warn(f"links use {base.url}: {base.reason}")
    rewriter = rewriter_for(settings, base_url=base.url)
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as e:
        raise CliError(f"cannot read {args.file}: {e.strerror}") from None
    name = "standard input" if args.file == "-" else args.file
    now = time.time()
    ctx = SendContext(
        args.message_id or new_ulid(int(now * 1000)), args.recipient, int(now), parse_utm(args.utm)
    )
    kind = not_text(raw)
    if kind is not None:
        warn(f"{name}: {kind}, not a body trackway can rewrite; written out unchanged")
        result, out = RewriteResult("", ()), raw
    else:
        # surrogateescape keeps bytes that are not UTF-8 (other charsets) as they were.
        body = raw.decode("utf-8", "surrogateescape")
        if args.text:
            result = rewriter.rewrite_text(body, ctx)
        else:
            result = rewriter.rewrite_html(body, ctx, open_pixel=args.open_pixel)
        out = result.body.encode("utf-8", "surrogateescape")
        untracked = _untracked(result, name)
        if untracked:
            warn(untracked)
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    if args.report:
        doc = {"message_id": ctx.message_id, "recipient_id": ctx.recipient_id, **result.report()}
        try:
            args.report.write_bytes(json_bytes(doc))
        except OSError as e:
            raise CliError(f"cannot write {args.report}: {e.strerror}") from None
    return 0


def _untracked(result: RewriteResult, name: str) -> str | None:
    """Why a body's links were all left as they were, if they were."""
    found = len(result.links)
    if found == 0:
        return f"no link found in {name}"
    if result.tracked:
        return None
    if found == 1:
        return f"the one link found in {name} was not tracked (see --report)"
    return f"none of the {found} links found in {name} was tracked (see --report)"
