"""The `trackway` command line. Every subcommand takes `--data` and `--config`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from config import Settings, load_settings
from config.datafolder import check_data_folder, close_to_others
from config.errors import TrackwayError
from proxy.cli import certs, config_check, db, domains, events, keys, links, rewrite, serve

Handler = Callable[[argparse.Namespace, Settings], int]


def common_options(default: object = None) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument(
        "--data",
        metavar="DIR",
        type=Path,
        default=default,
        help="data folder: database, keys, certificates "
        "(default: $TRACKWAY_DATA or ./trackway-data)",
    )
    group.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        default=default,
        help="TOML settings file (default: $TRACKWAY_CONFIG, else none)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    # A subcommand's own defaults would overwrite values given before its name, so its
    # copies of the common options leave the attribute alone when absent.
    common = common_options(default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="trackway",
        description="Tracked links on your own subdomain, with HTTPS built in.",
        parents=[common_options()],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (
        serve,
        rewrite,
        links,
        keys,
        events,
        domains,
        certs,
        config_check,
        db,
    ):
        module.register(commands, common)
    return parser


def exit_status(error: TrackwayError) -> int:
    """Every kind of error exits 1 (argparse's own usage errors exit 2): scripts test for
    success, and the message on stderr says what failed."""
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # every file and folder any trackway process makes is the owner's alone
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        standalone: Callable[[argparse.Namespace], int] | None = getattr(args, "standalone", None)
        if standalone is not None:  # a command that reads the settings itself
            return standalone(args)
        handler: Handler = args.handler
        settings = load_settings(args.config, os.environ, {"data": args.data})
        check_data_folder(settings.data)
        closed = close_to_others(settings.data)
        if closed is not None:
            print(f"trackway: {closed}", file=sys.stderr)
        return handler(args, settings)
    except TrackwayError as e:
        for line in str(e).splitlines() or [""]:  # the settings' errors: one line each
            print(f"trackway: {line}", file=sys.stderr)
        return exit_status(e)
    except BrokenPipeError:  # `trackway … | head` is not an error
        return 0
    except KeyboardInterrupt:
        return 130
