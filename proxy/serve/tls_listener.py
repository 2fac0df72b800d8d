"""A TLS listener that reads the ClientHello before the handshake (TLS-ALPN-01).

Python's SNI callback cannot see which ALPN protocols a client offers, and a CA
validating TLS-ALPN-01 must get the validation certificate (RFC 8737) while every other
client keeps getting the real one. So with `acme.challenge = "tls-alpn-01"` the worker
accepts TLS connections itself, peeks at the ClientHello, and only then starts TLS with
the right context. Otherwise aiohttp's own TLS site is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable

from certs.challenges import ChallengeStore
from certs.sni import SniCertificates, challenge_context
from certs.tls_alpn import ACME_TLS_ALPN, ClientHello, NeedMore, parse_client_hello

log = logging.getLogger("trackway.tls")
PEEK_BYTES = 16384
PEEK_SECONDS = 10.0
HANDSHAKE_SECONDS = 10.0


class PeekingTlsListener:
    def __init__(
        self,
        protocol_factory: Callable[[], asyncio.Protocol],
        certificates: SniCertificates,
        challenges: ChallengeStore,
    ) -> None:
        self.protocol_factory = protocol_factory
        self.context = certificates.server_context()
        self.challenges = challenges
        self._sock: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._handshakes: set[asyncio.Task[None]] = set()

    def start(self, sock: socket.socket) -> None:
        """Accept on `sock`, a listening socket (non-blocking), until `close`."""
        self._sock = sock
        self._accepting = asyncio.create_task(self._accept_loop(sock))

    async def close(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        if self._sock is not None:
            self._sock.close()
        for task in list(self._handshakes):
            task.cancel()

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as e:  # EMFILE and the like: wait, do not spin
                log.error("accept failed: %s", e)
                await asyncio.sleep(0.1)
                continue
            task = loop.create_task(self._start_tls(conn))
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _start_tls(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        conn.setblocking(False)
        try:
            hello = await asyncio.wait_for(_peek_hello(conn), PEEK_SECONDS)
            context = self.context
            if hello is not None and hello.server_name and ACME_TLS_ALPN in hello.alpn:
                paths = await loop.run_in_executor(
                    None, self.challenges.tls_alpn_paths, hello.server_name
                )
                if paths is not None:
                    context = challenge_context(str(paths[0]), str(paths[1]))
            await loop.connect_accepted_socket(
                self.protocol_factory, conn, ssl=context, ssl_handshake_timeout=HANDSHAKE_SECONDS
            )
        except (OSError, TimeoutError, ssl.SSLError, ConnectionError):
            conn.close()


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
