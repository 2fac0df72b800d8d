"""Every open connection of the public listeners, whichever path serves it.

A connection starts on the fast path (`ClickProtocol`) and may be handed over to aiohttp
(`FallbackHandler`); both note their phase (`deadlines`) in this one table, as does a
TLS connection before, from its accept until its handshake ends (`TlsHandshake`). A sweep
closes the connections past their deadline; a new connection at the cap closes those
nearest theirs. Each close by the server is counted in
`trackway_connections_closed_total{reason}` (`idle`, `head`, `body`, `cap`). Malformed
requests are counted in `trackway_bad_requests_total{reason}`, a few of them logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from aiohttp import web

from redirector import metrics
from redirector.clicks.deadlines import BUSY, ConnectionLimits
from redirector.clicks.fallback import FallbackHandler, fallback_server
from redirector.clicks.fast_path import ClickProtocol, HttpDate
from redirector.clicks.log_budget import LogBudget
from redirector.clicks.routes import ClickState
from redirector.clicks.tls_handshake import TlsHandshake

log = logging.getLogger("trackway.public")


class Tracked(Protocol):
    """A connection as the table sees it (a `ClickProtocol` or a `FallbackHandler`)."""

    @property
    def phase(self) -> str: ...

    @property
    def since(self) -> float: ...

    def abort(self) -> None: ...  # at once: past its deadline, or at the cap

    def close(self) -> None: ...  # once what it owes is written: at shutdown


def fd_limit() -> int:
    """This process's soft limit on open descriptors."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class ClickConnections:
    def __init__(
        self,
        state: ClickState,
        handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
        limits: ConnectionLimits,
    ) -> None:
        self.state = state
        self.limits = limits
        self.open: set[Tracked] = set()
        self.date = HttpDate()
        self.clock: Callable[[], float] = time.monotonic  # the loop's, once started
        self.closing = False
        # Another fast path, tried before aiohttp for a connection the click path does
        # not serve (the proxy's, `proxy.upstream.fast_forward`): given the bytes not
        # answered and when their head began, its protocol, or None.
        self.divert: Callable[[bytes, float], asyncio.Protocol | None] | None = None
        self._handler = handler
        self._server: web.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._log_budget = LogBudget()

    def protocol(self) -> ClickProtocol:
        """The protocol factory for `loop.create_server`, and for a TLS connection once
        its handshake is done."""
        return ClickProtocol(self)

    def handshake(self) -> TlsHandshake:
        """A TLS connection just accepted, in the table from now on (its handshake, the
        protocol its TLS transport is made with). At the cap, others make room."""
        entry = TlsHandshake(self, self.clock())
        self.admit(entry)
        return entry

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.clock = loop.time
        self._server = fallback_server(self._handler)
        self._sweeper = loop.create_task(self._sweep_forever())

    def admit(self, conn: Tracked) -> None:
        """A new connection. At the cap, those nearest their deadline make room."""
        excess = len(self.open) + 1 - self.limits.cap
        if excess > 0:
            count = excess - 1 + self.limits.evict_at_once
            for victim in self.limits.to_close(self.open, count):
                self._close(victim, "cap")
        self.open.add(conn)

    def hand_over(self, since: float) -> FallbackHandler:
        """aiohttp's protocol for a connection whose head began at `since`."""
        assert self._server is not None, "start() first"
        return FallbackHandler(self._server, self, since)

    def next_protocol(self, buffer: bytes, since: float) -> asyncio.Protocol:
        """The protocol for a connection the click path hands on with `buffer`."""
        if self.divert is not None:
            protocol = self.divert(buffer, since)
            if protocol is not None:
                return protocol
        return self.hand_over(since)

    def bad_request(self, reason: str, peer: str | None) -> None:
        metrics.instruments().bad_requests.labels(reason).inc()
        verdict = self._log_budget.note(self.clock())
        self._say_held_back(verdict.held_back)
        if verdict.log:
            log.info("bad request from %s: %s", peer or "an unknown address", reason)

    def _say_held_back(self, count: int) -> None:
        if count:
            log.info(
                "%d more bad requests in the last %g s (not logged one by one)",
                count,
                self._log_budget.seconds,
            )

    def _close(self, conn: Tracked, reason: str) -> None:
        metrics.instruments().connections_closed.labels(reason).inc()
        conn.abort()

    async def _sweep_forever(self) -> None:
        limits = self.limits
        while True:
            await asyncio.sleep(limits.sweep_seconds)
            now = self.clock()
            for conn in [c for c in self.open if limits.expired(c.phase, c.since, now)]:
                self._close(conn, conn.phase)
            self._say_held_back(self._log_budget.held_back(now))

    async def close(self, timeout: float) -> None:
        """After the listeners stopped accepting: answer what is in flight, then close."""
        self.closing = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for conn in list(self.open):
            if conn.phase != BUSY:
                conn.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(conn.phase == BUSY for conn in self.open) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self.open):
            conn.close()
        if self._server is not None:
            await self._server.shutdown(max(0.0, deadline - loop.time()))
