"""The supervisor's children: each started, watched, restarted with a growing delay, and
given up on when it keeps failing before it is ready.

A child reports over a pipe of its own: `ready` once it serves, or the error that
stopped it. A child that dies before it was ready counts towards `START_ATTEMPTS`: a
worker that cannot start (a bad certificate file, a broken setting) ends the server
with its error instead of being restarted forever. One that dies after serving is
restarted after `restart_delay`, which grows while it keeps dying.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from typing import Any

from config.errors import Unavailable
from redirector import metrics

log = logging.getLogger("trackway.server")
START_ATTEMPTS = 3
FIRST_DELAY = 0.5
MAX_DELAY = 30.0
STABLE_SECONDS = 60.0  # up this long: its earlier deaths are forgiven

READY = "ready"
FAILED = "failed"


def restart_delay(deaths: int) -> float:
    """Seconds before restarting a child that died `deaths` times in a row. Pure."""
    return 0.0 if deaths <= 0 else min(MAX_DELAY, FIRST_DELAY * 2 ** (deaths - 1))


class ChildFailed(Unavailable):
    """A child of `serve` keeps failing before it is ready; the message is its error."""


class Child:
    def __init__(
        self,
        name: str,
        target: Callable[..., None],
        args: Callable[[], tuple[Any, ...]],
        context: SpawnContext | None = None,
        on_death: Callable[[], None] | None = None,
    ) -> None:
        """`args()`: the target's arguments, made at each start (a worker's sockets may
        be bound anew); `on_death()`: runs when the child is found dead."""
        self.name = name
        self.target = target
        self.args = args
        self.on_death = on_death
        self.context = context or multiprocessing.get_context("spawn")
        self.process: BaseProcess | None = None
        self.status: Connection | None = None
        self.ready = False
        self.error: str | None = None
        self.started_at = 0.0
        self.deaths = 0  # in a row
        self.failed_starts = 0  # in a row, before ready
        self.restart_at: float | None = None

    def start(self, now: float) -> None:
        reader, writer = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=self.target, args=(*self.args(), writer), name=f"trackway {self.name}"
        )
        try:
            process.start()
        except OSError as e:  # no memory, no pids: the server cannot go on
            reader.close()
            raise ChildFailed(f"cannot start the {self.name}: {e.strerror or e}") from None
        finally:
            writer.close()  # the child has its own copy; EOF here once it is gone
        self.process, self.status = process, reader
        self.ready, self.error, self.started_at, self.restart_at = False, None, now, None

    def watch(self, now: float) -> None:
        """Read what the child said; restart it when due; ChildFailed when it keeps
        failing at start."""
        self._read_status()
        process = self.process
        if process is not None and not process.is_alive():
            self._died(process, now)
        if self.restart_at is not None and now >= self.restart_at:
            self.start(now)

    def _read_status(self) -> None:
        status = self.status
        try:
            while status is not None and status.poll():
                message = status.recv()
                if message == (READY,):
                    self.ready = True
                elif isinstance(message, tuple) and message[:1] == (FAILED,):
                    self.error = str(message[1])
        except (EOFError, OSError):
            pass  # the child is gone; its exit is seen below

    def _died(self, process: BaseProcess, now: float) -> None:
        self.process = None
        if self.status is not None:
            self.status.close()
            self.status = None
        if process.pid:
            metrics.forget_process(process.pid)
        if self.on_death is not None:
            self.on_death()
        if self.ready and now - self.started_at >= STABLE_SECONDS:
            self.deaths = 0
        self.deaths += 1
        why = self.error or f"exit status {process.exitcode}"
        if not self.ready:
            self.failed_starts += 1
            if self.failed_starts >= START_ATTEMPTS:
                raise ChildFailed(
                    f"the {self.name} failed {self.failed_starts} times at start: {why}"
                )
        else:
            self.failed_starts = 0
        delay = restart_delay(self.deaths)
        log.error("%s %s died (%s); another in %.1f s", self.name, process.pid, why, delay)
        self.restart_at = now + delay

    def alive(self) -> BaseProcess | None:
        return self.process if self.process is not None and self.process.is_alive() else None
