"""Obtain and renew certificates: check, lock, re-check, issue, store.

Never two orders for one name at once (a lease in SQLite, across processes); failures
back off (certs/renewal.py) and a still-valid certificate is never dropped because a
renewal failed. The synchronous ACME client runs in a thread pool of its own.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from certs.acme_issuer import AcmeError, AcmeIssuer
from certs.lease import Leases
from certs.renewal import is_due, renew_at, retry_delay
from certs.store import CertState, CertStore
from config import AcmeSettings

log = logging.getLogger("trackway.certs")
LEASE_SECONDS = 600.0


class CertManager:
    def __init__(
        self,
        data: Path,
        acme: AcmeSettings,
        issuer: AcmeIssuer | None = None,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.acme = acme
        self.store = CertStore(data)
        self.leases = Leases(data)
        self.issuer = issuer or AcmeIssuer(acme, data)
        self.clock = clock
        self.jitter = jitter
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="trackway-acme")

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.leases.close()

    def needs_order(self, state: CertState, now: float, force: bool = False) -> bool:
        if force:
            return True
        if state.blocked:
            return False
        if state.next_attempt is not None and now < state.next_attempt:
            return False
        if not self.store.has_certificate(state.host) or state.not_after is None:
            return True
        return is_due(state.not_before or state.not_after, state.not_after, now, _ari(state))

    async def ensure(self, host: str, force: bool = False) -> CertState:
        """A valid certificate for `host` when one is due; the state either way."""
        now = self.clock()
        if not self.needs_order(self.store.state(host), now, force):
            return self.store.state(host)
        if not self.leases.acquire(host, now, LEASE_SECONDS):
            log.info("%s: another process is ordering its certificate", host)
            return self.store.state(host)
        try:
            state = self.store.state(host)  # it may have changed while we waited
            if not self.needs_order(state, now, force):
                return state
            return await self._order(host, state)
        finally:
            self.leases.release(host)

    async def _order(self, host: str, state: CertState) -> CertState:
        log.info("%s: ordering a certificate from %s", host, self.acme.directory)
        loop = asyncio.get_running_loop()
        try:
            chain, key = await loop.run_in_executor(self.executor, self.issuer.issue, host)
        except AcmeError as e:
            failures = state.failures + 1
            delay = retry_delay(failures, self.jitter(), e.retry_after)
            state = replace(
                state,
                last_error=str(e),
                failures=failures,
                next_attempt=self.clock() + delay,
                blocked=e.permanent,
            )
            self.store.put_state(state)
            if e.permanent:
                log.error("%s: the CA refuses this name, no more orders: %s", host, e)
            else:
                log.warning("%s: order failed (%s); next try in %.0f s", host, e, delay)
            return state
        state = self.store.save(host, chain, key, CertState(host))
        ari = await loop.run_in_executor(self.executor, self.issuer.renewal_window, chain)
        assert state.not_before is not None
        assert state.not_after is not None
        state = replace(state, renew_at=renew_at(state.not_before, state.not_after, ari))
        self.store.put_state(state)
        log.info("%s: certificate valid until %s", host, time.ctime(state.not_after))
        return state


def _ari(state: CertState) -> float | None:
    """The stored renewal time when it came from the CA's window (earlier than a third)."""
    if state.renew_at is None or state.not_before is None or state.not_after is None:
        return None
    return state.renew_at if state.renew_at < renew_at(state.not_before, state.not_after) else None
