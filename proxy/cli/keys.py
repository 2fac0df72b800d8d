"""`trackway keys list|rotate|retire`: the data folder's ring, or with `[store] url` the
database's, which every server follows within seconds (`proxy.store.keys`)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from config import Settings
from proxy.cli.output import iso_utc
from proxy.store.keys import current_keyring, retire, rotate
from redirector.links.keyring import SigningKey


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    keys = commands.add_parser(
        "keys", help="the signing keys", description="Manage the keys that sign links."
    )
    actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", parents=[common], help="list keys", description="List the signing keys."
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=list_keys)
    rotate = actions.add_parser(
        "rotate",
        parents=[common],
        help="make a new signing key",
        description="Make a new signing key. Links signed by older keys keep working.",
    )
    rotate.set_defaults(handler=rotate_command)
    retire = actions.add_parser(
        "retire",
        parents=[common],
        help="retire a key",
        description="Retire a key: links it signed stop redirecting (404).",
    )
    retire.add_argument("kid", metavar="KID", help="the key id, as `keys list` shows it")
    retire.set_defaults(handler=retire_command)


def _status(key: SigningKey, signing: SigningKey) -> str:
    if key.retired:
        return "retired"
    return "signing" if key is signing else "verifying"


def _iso(ts: int | None) -> str | None:
    return None if ts is None else iso_utc(ts)


def list_keys(args: argparse.Namespace, settings: Settings) -> int:
    ring = current_keyring(settings, int(time.time()))
    signing = ring.signing_key
    rows = [
        {
            "key_id": k.key_id,
            "status": _status(k, signing),
            "created_at": _iso(k.created_at),
            "retired_at": _iso(k.retired_at),
        }
        for k in ring.keys
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'KEY ID':<10}{'STATUS':<11}CREATED")
    for row in rows:
        print(f"{row['key_id']:<10}{row['status']:<11}{row['created_at']}")
    return 0


def rotate_command(args: argparse.Namespace, settings: Settings) -> int:
    key = rotate(settings, int(time.time()))
    print(f"new signing key {key.key_id}; older keys still verify")
    return 0


def retire_command(args: argparse.Namespace, settings: Settings) -> int:
    key = retire(settings, args.kid, int(time.time()))
    print(f"retired key {key.key_id}; links it signed no longer redirect")
    return 0
