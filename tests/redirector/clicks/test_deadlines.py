"""The one policy of both paths' connections: deadlines, the cap and what goes first."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from config import ServerSettings
from redirector.clicks.deadlines import (
    BODY,
    BUSY,
    HEAD,
    IDLE,
    ConnectionLimits,
    connection_cap,
)

LIMITS = ConnectionLimits(idle_seconds=75, head_seconds=15, body_seconds=10, cap=100)


@pytest.mark.parametrize(
    ("phase", "since", "now", "expired"),
    [
        (IDLE, 0, 75, False),
        (IDLE, 0, 75.01, True),
        (IDLE, 100, 170, False),
        (HEAD, 0, 15, False),
        (HEAD, 0, 15.01, True),
        (BODY, 0, 10.01, True),
        (BODY, 0, 9.9, False),
        (BUSY, 0, 10_000, False),  # the server's own work has no deadline
    ],
)
def test_each_phase_has_its_deadline(phase: str, since: float, now: float, expired: bool) -> None:
    assert LIMITS.expired(phase, since, now) is expired


@dataclass
class Conn:
    name: str
    phase: str
    since: float


def test_the_connections_nearest_their_deadline_go_first() -> None:
    conns = [
        Conn("idle for a minute", IDLE, 40),  # due at 115
        Conn("answering", BUSY, 0),  # never
        Conn("a head for 5 s", HEAD, 95),  # due at 110
        Conn("just connected", IDLE, 100),  # due at 175
        Conn("a body for 1 s", BODY, 99),  # due at 109
        Conn("a new head", HEAD, 100),  # due at 115, after the older idle one
    ]
    order = [c.name for c in LIMITS.to_close(conns, 10)]
    assert order == [
        "a body for 1 s",
        "a head for 5 s",
        "idle for a minute",
        "a new head",
        "just connected",
    ]
    assert [c.name for c in LIMITS.to_close(conns, 2)] == order[:2]
    assert LIMITS.to_close([Conn("answering", BUSY, 0)], 1) == []


@pytest.mark.parametrize(
    ("configured", "fd_limit", "cap"),
    [
        (0, 1024, 960),  # 64 descriptors kept for files, pipes, listeners
        (0, 200, 136),
        (0, 100, 50),  # a small limit: half of it
        (0, 1, 1),
        (500, 1024, 500),
        (5000, 1024, 960),  # never more than the fd limit allows
    ],
)
def test_the_cap_leaves_room_for_files(configured: int, fd_limit: int, cap: int) -> None:
    assert connection_cap(configured, fd_limit) == cap


def test_limits_from_settings_and_sweeps() -> None:
    server = ServerSettings(idle_seconds=2, head_seconds=0.5, body_seconds=1, max_connections=7)
    limits = ConnectionLimits.from_settings(server, fd_limit=1024)
    assert limits == ConnectionLimits(2, 0.5, 1, 7)
    assert limits.sweep_seconds == pytest.approx(0.1)  # a fifth of the shortest deadline
    assert ConnectionLimits().sweep_seconds == 3  # 15 s heads
    assert ConnectionLimits(cap=7).evict_at_once == 1
    assert ConnectionLimits(cap=960).evict_at_once == 30
