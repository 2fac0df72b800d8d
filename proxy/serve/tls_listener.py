"""The TLS listener: it accepts connections itself, each counted from its accept.

asyncio's own TLS listener counts a connection only once its handshake is done (see
`redirector.clicks.tls_handshake`): here each accepted connection is in the table of
the click connections at once, so the head deadline and the connection cap cover its
handshake, and it is handed to the click protocol as the handshake ends.

With `acme.challenge = "tls-alpn-01"` it also reads the ClientHello before the
handshake: Python's SNI callback cannot see which ALPN protocols a client offers, and a
CA validating TLS-ALPN-01 must get the validation certificate (RFC 8737) while every
other client keeps getting the real one.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from concurrent.futures import Executor

from certs.challenges import Challenges
from certs.sni import challenge_context
from certs.tls_alpn import ACME_TLS_ALPN, ClientHello, NeedMore, parse_client_hello
from config.errors import Unavailable
from redirector.clicks import ClickConnections
from redirector.clicks.tls_handshake import TlsHandshake

log = logging.getLogger("trackway.tls")
PEEK_BYTES = 16384


class TlsListener:
    def __init__(
        self,
        connections: ClickConnections,
        context: ssl.SSLContext,
        challenges: Challenges | None = None,
        lookups: Executor | None = None,
    ) -> None:
        """`challenges`: answer TLS-ALPN-01 validations from there (peeking), looked up
        in `lookups`' threads (None: the loop's default executor)."""
        self.connections = connections
        self.context = context
        self.challenges = challenges
        self.lookups = lookups
        self.sockets: list[socket.socket] = []
        self._accepting: asyncio.Task[None] | None = None

    def start(self, sock: socket.socket) -> None:
        """Accept on `sock`, a listening socket (non-blocking), until `close`."""
        self.sockets = [sock]
        self._accepting = asyncio.create_task(self._accept_loop(sock))

    def close(self) -> None:
        """Stop accepting; connections being accepted are the table's to close."""
        if self._accepting is not None:
            self._accepting.cancel()  # and so the socket closes

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    conn, _ = await loop.sock_accept(sock)
                except OSError as e:  # EMFILE and the like: wait, do not spin
                    log.error("accept failed: %s", e)
                    await asyncio.sleep(0.1)
                    continue
                handshake = self.connections.handshake()  # counted from now: the cap sees it
                handshake.waiting = loop.create_task(self._start_tls(conn, handshake))
        finally:
            sock.close()

    async def _start_tls(self, conn: socket.socket, handshake: TlsHandshake) -> None:
        loop = asyncio.get_running_loop()
        limits = self.connections.limits
        handed = False  # from then on the transport owns the socket, and closes it
        try:
            conn.setblocking(False)
            context = self.context
            if self.challenges is not None:
                context = await self._context_for(conn, self.challenges)
            handed = True
            # The sweep closes it at its head deadline; this timer only backs it up.
            await loop.connect_accepted_socket(
                lambda: handshake,
                conn,
                ssl=context,
                ssl_handshake_timeout=limits.head_seconds + 2 * limits.sweep_seconds,
            )
        except (Exception, asyncio.CancelledError):  # the client's doing, or closed by us
            self.connections.open.discard(handshake)
            if not handed:
                conn.close()

    async def _context_for(self, conn: socket.socket, challenges: Challenges) -> ssl.SSLContext:
        hello = await _peek_hello(conn)
        if hello is not None and hello.server_name and ACME_TLS_ALPN in hello.alpn:
            name = hello.server_name
            try:
                # In a thread: the answer may come from the shared store (another
                # server published it), and loading a certificate reads files.
                return await asyncio.get_running_loop().run_in_executor(
                    self.lookups, _challenge_context, challenges, name
                )
            except LookupError:
                pass
            except Unavailable as e:
                log.warning("%s: TLS-ALPN-01 answer not looked up: %s", name, e)
        return self.context


def _challenge_context(challenges: Challenges, host: str) -> ssl.SSLContext:
    """The validation certificate's context for `host`; LookupError when none is open."""
    found = challenges.tls_alpn_certificate(host)
    if found is None:
        raise LookupError(host)
    return challenge_context(*found)


async def _peek_hello(conn: socket.socket) -> ClientHello | None:
    """The ClientHello, read without consuming it (the TLS layer reads it again)."""
    loop = asyncio.get_running_loop()
    while True:
        ready = loop.create_future()
        loop.add_reader(conn.fileno(), ready.set_result, None)
        try:
            await ready
        finally:
            loop.remove_reader(conn.fileno())
        data = conn.recv(PEEK_BYTES, socket.MSG_PEEK)
        if not data:
            raise ConnectionError("closed before the ClientHello")
        try:
            return parse_client_hello(data)
        except NeedMore:
            if len(data) >= PEEK_BYTES:
                return None
            await asyncio.sleep(0.005)  # the rest is on its way; the peeked part stays
