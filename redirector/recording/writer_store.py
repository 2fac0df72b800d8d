"""The one writer's store: opened on first use and again after a failure; the first
opening warms the burst tracker with the last window's events, so that bursts that
began before a restart still count."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redirector.recording.bot_rules import BurstPolicy
from redirector.recording.burst_tracker import BurstTracker
from redirector.recording.event_store import EventStore

log = logging.getLogger("trackway.writer")


class WriterStore:
    def __init__(self, open_store: Callable[[], EventStore], burst: BurstPolicy) -> None:
        self._open_store = open_store
        self._store: EventStore | None = None
        self.bursts = BurstTracker(burst)
        self._warmed = False

    def get(self) -> EventStore:
        """The open store; raises StoreUnavailable (or what opening raised)."""
        if self._store is None:
            self._store = self._open_store()
            if not self._warmed:
                window = self.bursts.policy.seconds
                self.bursts.warm(self._store.recent(time.time() - window))
                self._warmed = True
        return self._store

    def forget_old_clients(self) -> None:
        self.bursts.forget_before(time.time() - self.bursts.policy.seconds)

    def close(self) -> None:
        """After a failure (the next `get` opens it anew), or at the end."""
        if self._store is not None:
            try:
                self._store.close()
            except Exception:
                log.debug("closing the store failed", exc_info=True)
            self._store = None
