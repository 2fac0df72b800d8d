"""`trackway serve`."""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any

from config import Settings
from config.settings import parse_host_port
from proxy.cli.output import CliError
from proxy.serve.supervisor import serve


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="run the click server",
        description="Serve tracked links (/c/TOKEN), open pixels (/o/TOKEN) and the admin "
        "API, recording every event in the data folder's SQLite database.",
    )
    serve.add_argument(
        "--http", metavar="HOST:PORT", help="public listener (default 127.0.0.1:8080)"
    )
    serve.add_argument(
        "--admin", metavar="HOST:PORT", help="admin API listener (default 127.0.0.1:8081)"
    )
    serve.add_argument(
        "--https",
        metavar="HOST:PORT",
        help="TLS listener serving the same routes, certificates picked by SNI (default: none)",
    )
    serve.add_argument(
        "--workers",
        metavar="N",
        type=int,
        help="processes sharing the public port (default: one per core)",
    )
    serve.set_defaults(handler=serve_command)


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    server = settings.server
    http = args.http or server.http
    admin = args.admin or server.admin
    https = args.https or server.https
    parse_host_port(http, "--http")
    parse_host_port(admin, "--admin")
    if https:
        parse_host_port(https, "--https")
    workers = args.workers if args.workers is not None else server.workers
    if workers < 0:
        raise CliError("--workers: 0 (one per core) or more")
    workers = workers or os.cpu_count() or 1
    settings = dataclasses.replace(
        settings,
        server=dataclasses.replace(server, http=http, admin=admin, https=https, workers=workers),
    )
    try:
        return serve(settings, workers)
    except OSError as e:
        raise CliError(f"cannot listen: {e.strerror or e}") from None
