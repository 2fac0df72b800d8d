"""The listening sockets of `serve`, all bound by the supervisor before any process starts.

Binding everything first makes a listener that cannot be had one clear error at start
(naming the flag and the address), with nothing left running. The public and HTTPS
ports get one socket per worker with SO_REUSEPORT, so that the kernel spreads
connections over the workers; but the port is first bound alone, without SO_REUSEPORT,
which fails while anything else holds it — including another trackway, whose sockets
would otherwise join ours and answer a share of our clicks. Two trackways starting at
the same moment are kept apart by a claim on the port (an abstract unix socket named
after it) taken before that probe. Workers get their sockets from the supervisor; a
dead worker's sockets are closed while other workers hold the port (or the kernel
would keep handing them connections nobody accepts) and bound anew for its successor.
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


class SharedPort:
    """A port the workers share: this server's claim on it, and new sockets in its
    SO_REUSEPORT group on demand."""

    def __init__(self, address: str, flag: str) -> None:
        self.flag = flag
        self.host, self.port = parse_host_port(address, flag)
        self._claim: socket.socket | None = None
        if self.port != 0:
            self._claim = _claim(self.host, self.port, address, flag)
            try:
                _bind(self.host, self.port, flag, reuse_port=False).close()  # held by anyone?
            except BaseException:
                self.close()
                raise

    def bind(self) -> socket.socket:
        sock = _bind(self.host, self.port, self.flag, reuse_port=True)
        self.port = int(sock.getsockname()[1])  # port 0: the first bind picks it
        return sock

    def close(self) -> None:
        if self._claim is not None:
            self._claim.close()
            self._claim = None


@dataclass
class WorkerSockets:
    """One worker's listening sockets: public, and TLS with `--https`."""

    ports: tuple[SharedPort, ...]
    sockets: list[socket.socket] = field(default_factory=list)

    def bound(self) -> list[socket.socket]:
        """Its sockets, bound anew if they were released."""
        if not self.sockets:
            try:
                for port in self.ports:
                    self.sockets.append(port.bind())
            except BaseException:
                self.release()
                raise
        return self.sockets

    def release(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets = []


@dataclass
class Listeners:
    """Every listener of `serve`: the shared ports, each worker's sockets, the admin's."""

    ports: list[SharedPort] = field(default_factory=list)
    workers: list[WorkerSockets] = field(default_factory=list)
    admin: socket.socket | None = None

    def release_dead(self, index: int, alive: list[bool]) -> None:
        """Worker `index` died: close its sockets unless no live worker holds the port."""
        if any(up for i, up in enumerate(alive) if i != index):
            self.workers[index].release()

    def close(self) -> None:
        for worker in self.workers:
            worker.release()
        for port in self.ports:
            port.close()
        if self.admin is not None:
            self.admin.close()


def bind_listeners(server: ServerSettings, workers: int) -> Listeners:
    """Every listener of `serve`, or ListenError with nothing left bound."""
    listeners = Listeners()
    try:
        listeners.ports.append(SharedPort(server.http, "--http"))
        if server.https:
            listeners.ports.append(SharedPort(server.https, "--https"))
        for _ in range(workers):
            sockets = WorkerSockets(tuple(listeners.ports))
            sockets.bound()
            listeners.workers.append(sockets)
        host, port = parse_host_port(server.admin, "--admin")
        listeners.admin = _bind(host, port, "--admin", reuse_port=False)
    except BaseException:
        listeners.close()
        raise
    return listeners


def _claim(host: str, port: int, address: str, flag: str) -> socket.socket:
    claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        claim.bind(f"\0trackway-port:{host}:{port}")
    except OSError:
        claim.close()
        raise ListenError(
            f"cannot listen on {address} ({flag}): another trackway has it"
        ) from None
    return claim


def _bind(host: str, port: int, flag: str, reuse_port: bool) -> socket.socket:
    try:
        return bind_socket(host, port, reuse_port)
    except OSError as e:
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise ListenError(f"cannot listen on {address} ({flag}): {e.strerror or e}") from None
