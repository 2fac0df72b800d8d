"""`trackway config check [FILE]`: a settings file read exactly as `serve` reads it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from config import load_settings
from proxy.cli.output import CliError


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    config = commands.add_parser(
        "config", help="the settings file", description="Check a TOML settings file."
    )
    actions = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check",
        parents=[common],
        help="check a settings file",
        description="Read a settings file and the TRACKWAY_* variables as `serve` would: "
        "every unknown section or key (with the known one it looks like), wrong type and "
        "out-of-range value is named with the reason, and the exit status is 1; a valid "
        "file prints `ok: FILE`. See trackway.example.toml for every setting.",
    )
    check.add_argument(
        "file",
        metavar="FILE",
        nargs="?",
        type=Path,
        help="the TOML file (default: --config, else $TRACKWAY_CONFIG)",
    )
    # Run before the settings are loaded (main would stop at a wrong file) and without the
    # data folder, which a check neither needs nor should make.
    check.set_defaults(standalone=check_command)


def check_command(args: argparse.Namespace) -> int:
    path: Path | None = args.file or args.config
    if path is None and os.environ.get("TRACKWAY_CONFIG"):
        path = Path(os.environ["TRACKWAY_CONFIG"])
    if path is None:
        raise CliError("no settings file to check: give FILE, --config FILE or $TRACKWAY_CONFIG")
    load_settings(path, os.environ, {"data": args.data})  # SettingsError: every wrong key
    print(f"ok: {path}")
    return 0
