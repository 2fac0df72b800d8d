"""A TLS connection from its accept to the end of its handshake, counted all along.

asyncio's TLS listener makes a connection's protocol only once its handshake is done:
until then it holds a descriptor that neither the deadlines nor the connection cap see,
and a flood of silent TLS connections used up a worker's descriptors. So TLS listeners
accept connections themselves (`proxy.serve.tls_listener`) and put each in the table
of `connections` at once, as this entry: in `HEAD` (the head deadline runs from the
accept, ClientHello and handshake included), closed at its deadline or at the cap by
cancelling what it waits for. It is the protocol the TLS transport is made with, and
hands the connection to the click protocol, which counts it from then on, as the
handshake ends.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from redirector.clicks.deadlines import HEAD

if TYPE_CHECKING:
    from redirector.clicks.connections import ClickConnections


class TlsHandshake(asyncio.Protocol):
    def __init__(self, connections: ClickConnections, since: float) -> None:
        self.connections = connections
        self.phase = HEAD
        self.since = since
        self.waiting: asyncio.Future[None] | None = None  # its ClientHello and handshake

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """The handshake is done: the click protocol serves the connection from here."""
        self.connections.open.discard(self)
        self.waiting = None
        transport = cast(asyncio.Transport, transport)
        click = self.connections.protocol()
        transport.set_protocol(click)
        click.connection_made(transport)

    def abort(self) -> None:
        self.connections.open.discard(self)
        if self.waiting is not None:
            self.waiting.cancel()  # the listener closes the connection

    def close(self) -> None:  # at shutdown: nothing is owed before the handshake ends
        self.abort()
