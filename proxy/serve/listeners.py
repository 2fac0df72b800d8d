"""The listening sockets of `serve`, all bound by the supervisor before any process starts.

Binding everything first makes a listener that cannot be had one clear error at start
(naming the flag and the address), with nothing left running. The public and HTTPS
ports get one socket per worker with SO_REUSEPORT, so that the kernel spreads
connections over the workers as before; but the port is first bound alone, without
SO_REUSEPORT, which fails while anything else holds it — including another trackway,
whose sockets would otherwise join ours and answer a share of our clicks. Workers get
their sockets from the supervisor (and the same ones again when restarted).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from config import ServerSettings
from config.errors import Unavailable
from config.settings import parse_host_port

BACKLOG = 2048


class ListenError(Unavailable):
    """A listener cannot be bound; the message names the flag, the address and why."""


def bind_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@dataclass
class Listeners:
    """Per worker: its public socket and, with `--https`, its TLS socket; one admin socket."""

    http: list[socket.socket] = field(default_factory=list)
    https: list[socket.socket] = field(default_factory=list)
    admin: socket.socket | None = None

    def close(self) -> None:
        for sock in [*self.http, *self.https, *([self.admin] if self.admin else [])]:
            sock.close()


def bind_listeners(server: ServerSettings, workers: int) -> Listeners:
    """Every listener of `serve`, or ListenError with nothing left bound."""
    listeners = Listeners()
    try:
        listeners.http = _shared_port(server.http, "--http", workers)
        if server.https:
            listeners.https = _shared_port(server.https, "--https", workers)
        listeners.admin = _bind(server.admin, "--admin", reuse_port=False)
    except BaseException:
        listeners.close()
        raise
    return listeners


def _shared_port(address: str, flag: str, count: int) -> list[socket.socket]:
    host, port = parse_host_port(address, flag)
    if port != 0:
        _bind(address, flag, reuse_port=False).close()  # held by anyone: refused here
    first = _bind(f"{host}:{port}", flag, reuse_port=True)
    sockets = [first]
    try:
        for _ in range(count - 1):
            sockets.append(_bind(f"{host}:{port_of(first)}", flag, reuse_port=True))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _bind(address: str, flag: str, reuse_port: bool) -> socket.socket:
    host, port = parse_host_port(address, flag)
    try:
        return bind_socket(host, port, reuse_port)
    except OSError as e:
        raise ListenError(f"cannot listen on {address} ({flag}): {e.strerror or e}") from None
