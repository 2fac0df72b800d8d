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


WORKERS_PER_CORE = 4  # more only adds processes that wait for the same cores


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    server = settings.server
    http = args.http or server.http
    admin = args.admin or server.admin
    https = args.https or server.https
    listeners = {"--http": http, "--admin": admin, **({"--https": https} if https else {})}
    addresses = {flag: parse_host_port(value, flag) for flag, value in listeners.items()}
    clash = clashing_listeners(addresses)
    if clash is not None:
        first, second = clash
        raise CliError(
            f"{first} {listeners[first]} and {second} {listeners[second]} share a port: "
            "give each listener its own"
        )
    cores = os.cpu_count() or 1
    workers = args.workers if args.workers is not None else server.workers
    if not 0 <= workers <= WORKERS_PER_CORE * cores:
        raise CliError(
            f"--workers: 0 (one per core) to {WORKERS_PER_CORE * cores} "
            f"({WORKERS_PER_CORE} per core, {cores} cores here), not {workers}"
        )
    workers = workers or cores
    settings = dataclasses.replace(
        settings,
        server=dataclasses.replace(server, http=http, admin=admin, https=https, workers=workers),
    )
    return serve(settings, workers)  # ListenError names the listener that cannot be had


_ANY_ADDRESS = ("0.0.0.0", "::", "")  # noqa: S104 - recognised, not bound


def clashing_listeners(addresses: dict[str, tuple[str, int]]) -> tuple[str, str] | None:
    """Two listeners that would want one socket: the same port (not 0, which picks a
    free one) on the same address, or on any address and another. Pure."""
    named = list(addresses.items())
    for i, (first, (host_a, port_a)) in enumerate(named):
        for second, (host_b, port_b) in named[i + 1 :]:
            if port_a == port_b != 0 and (
                host_a == host_b or host_a in _ANY_ADDRESS or host_b in _ANY_ADDRESS
            ):
                return first, second
    return None
