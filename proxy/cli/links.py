"""`trackway links decode`: what a tracked link says, or why it is not valid."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from config import Settings
from proxy.cli.output import UNDECODABLE_NOTE, iso_utc, json_bytes
from proxy.store.keys import current_keyring
from redirector import TokenError, verify


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    links = commands.add_parser("links", help="inspect tracked links")
    actions = links.add_subparsers(dest="action", metavar="ACTION", required=True)
    decode = actions.add_parser(
        "decode",
        parents=[common],
        help="show the claims of a tracked link",
        description="Verify a tracked link (or its token) with this data folder's keys "
        "and print what it carries. Exits 1 when it is not valid.",
    )
    decode.add_argument("link", metavar="URL_OR_TOKEN")
    decode.add_argument(
        "--json", action="store_true", help=f"print a JSON object; {UNDECODABLE_NOTE}"
    )
    decode.set_defaults(handler=decode_command)


def token_of(link: str) -> str:
    """The token of `…/c/TOKEN` (query and fragment ignored), or `link` itself."""
    link = link.strip()
    path = urlsplit(link).path if "://" in link else link
    _, sep, tail = path.rpartition("/c/")
    return tail if sep else path.rsplit("/", 1)[-1]


def decode_command(args: argparse.Namespace, settings: Settings) -> int:
    ring = current_keyring(settings, int(time.time()))
    try:
        claims = verify(token_of(args.link), ring)
    except TokenError as e:
        if args.json:
            print(json.dumps({"valid": False, "error": e.reason, "detail": str(e)}))
        else:
            print(f"trackway: not a valid link: {e}", file=sys.stderr)
        return 1
    doc = {"valid": True, **claims.as_dict()}
    doc["sent_at_iso"] = iso_utc(claims.sent_at)
    if args.json:
        sys.stdout.buffer.write(json_bytes(doc))
    else:
        for name, value in doc.items():
            if name != "valid":
                print(f"{name + ':':<14}{'-' if value is None else value}")
    return 0
