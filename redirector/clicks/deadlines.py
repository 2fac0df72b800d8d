"""How long a public connection may hold a worker, whichever path serves it. Pure.

A connection is always in one phase, the same on the fast path and on aiohttp's:
`IDLE` (nothing owed: waiting for a request), `HEAD` (a request's head is arriving),
`BUSY` (its request is being answered: the click's event being made durable) or `BODY`
(answered, and the request's body still arriving; aiohttp's path only). Each phase but
`BUSY` has a deadline from when it began: a byte now and then does not keep a head or a
body alive. The server's own work has none.

A worker holds at most `cap` connections: each descriptor beyond its fd limit would be
refused with a reset, clicks included. At the cap, the connections nearest their
deadline are closed first (they would be closed soonest anyway: the slowest heads and
bodies, the longest idle keep-alives), never one being answered.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol, TypeVar

from config import ServerSettings

IDLE: Final = "idle"
HEAD: Final = "head"
BUSY: Final = "busy"
BODY: Final = "body"

# Descriptors a worker keeps for what is not a connection (its listeners, spool file,
# metrics files, pipes, certificate files being read): 27 in a worker serving HTTP and
# HTTPS after its first clicks (/proc/PID/fd), so 64 leaves room.
FD_RESERVE = 64
MAX_SWEEP_SECONDS = 5.0


class Phased(Protocol):
    @property
    def phase(self) -> str: ...

    @property
    def since(self) -> float: ...


T = TypeVar("T", bound=Phased)


@dataclass(frozen=True)
class ConnectionLimits:
    idle_seconds: float = 75.0
    head_seconds: float = 15.0
    body_seconds: float = 15.0
    cap: int = 1000

    @classmethod
    def from_settings(cls, server: ServerSettings, fd_limit: int) -> ConnectionLimits:
        return cls(
            server.idle_seconds,
            server.head_seconds,
            server.body_seconds,
            connection_cap(server.max_connections, fd_limit),
        )

    def deadline(self, phase: str, since: float) -> float | None:
        """When a connection in `phase` since `since` is closed; None: never."""
        if phase == IDLE:
            return since + self.idle_seconds
        if phase == HEAD:
            return since + self.head_seconds
        if phase == BODY:
            return since + self.body_seconds
        return None

    def expired(self, phase: str, since: float, now: float) -> bool:
        deadline = self.deadline(phase, since)
        return deadline is not None and now > deadline

    @property
    def sweep_seconds(self) -> float:
        """How often deadlines are checked: a fifth of the shortest, at most 5 s."""
        shortest = min(self.idle_seconds, self.head_seconds, self.body_seconds)
        return min(MAX_SWEEP_SECONDS, shortest / 5)

    @property
    def evict_at_once(self) -> int:
        """Connections closed each time the cap is reached: a few, so that a flood of
        new connections costs one look over the open ones per few connections."""
        return max(1, self.cap // 32)

    def to_close(self, connections: Iterable[T], count: int) -> list[T]:
        """The `count` connections to close first, nearest their deadline first."""
        due = []
        for i, conn in enumerate(connections):
            deadline = self.deadline(conn.phase, conn.since)
            if deadline is not None:  # never one being answered
                due.append((deadline, i, conn))
        return [conn for _, _, conn in heapq.nsmallest(count, due)]


def connection_cap(configured: int, fd_limit: int) -> int:
    """Open connections a worker may hold: `configured` (0: no figure given), never more
    than its fd limit leaves room for."""
    room = max(1, fd_limit - min(FD_RESERVE, fd_limit // 2))
    return min(configured, room) if configured > 0 else room
