"""Obtain and renew certificates: check, lock, re-check, issue, store.

Never two orders for one name at once (a lease, across processes and servers, renewed
while the order runs; what it writes carries the lease's fencing token, refused once
another holder took over); failures back off (certs/renewal.py) and a still-valid
certificate is never dropped because a renewal failed. The synchronous ACME client, and
the stores (a database, maybe far), run in a thread pool of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from certs.acme_issuer import AcmeError, AcmeIssuer
from certs.backends import CertBackends
from certs.renewal import is_due, renew_at, retry_delay
from certs.store import CertState, CertStore, LeaseLost
from config import AcmeSettings
from config.errors import Unavailable

__all__ = ["LEASE_SECONDS", "CertManager"]

log = logging.getLogger("trackway.certs")
LEASE_SECONDS = 600.0
T = TypeVar("T")


class CertManager:
    def __init__(
        self,
        data: Path,
        acme: AcmeSettings,
        issuer: AcmeIssuer | None = None,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        backends: CertBackends | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        """`backends`: where leases, certificates, the account and the challenge answers
        are kept (default: the data folder's files)."""
        self.acme = acme
        self.backends = backends or CertBackends.files(data)
        self.store = CertStore(data, self.backends.certificates)
        self.leases = self.backends.leases
        self.issuer = issuer or AcmeIssuer(
            acme, data, self.backends.account, self.backends.challenges
        )
        self.clock = clock
        self.jitter = jitter
        self.lease_seconds = lease_seconds
        # Two: an order, and the lease renewals and store writes beside it.
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="trackway-acme")

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.backends.close()

    async def _run(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)

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
        try:
            token = await self._run(lambda: self.leases.acquire(host, now, self.lease_seconds))
        except Unavailable as e:  # the shared store is down: nobody may order meanwhile
            log.warning("%s: no lease, no order for now: %s", host, e)
            return self.store.state(host)
        if token is None:
            log.info("%s: another process is ordering its certificate", host)
            return self.store.state(host)
        renewing = asyncio.create_task(self._keep_lease(host, token))
        try:
            try:  # another server may have just renewed it: its mirror may lag
                await self._run(lambda: self.store.refresh(host))
            except Unavailable as e:
                log.warning("%s: shared certificate not looked up: %s", host, e)
            state = self.store.state(host)  # it may have changed while we waited
            if not self.needs_order(state, now, force):
                return state
            return await self._order(host, state, token)
        except LeaseLost as e:
            log.error("%s: %s; its result is dropped", host, e)
            return self.store.state(host)
        finally:
            renewing.cancel()
            with contextlib.suppress(Unavailable):
                await self._run(lambda: self.leases.release(host, token))

    async def _keep_lease(self, host: str, token: int) -> None:
        """Renew the lease while the order runs (a third of its time, then again)."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                kept = await self._run(
                    lambda: self.leases.renew(host, token, self.clock(), self.lease_seconds)
                )
            except Unavailable as e:
                log.warning("%s: lease not renewed: %s", host, e)
                continue
            if not kept:
                log.error("%s: lease taken over by another holder", host)
                return

    async def _fenced(self, host: str, token: int, write: Callable[[], T]) -> T:
        """`write`, while the lease is still ours (LeaseLost if not): the shared store
        checks the token again as it writes."""

        def checked() -> T:
            try:
                kept = self.leases.renew(host, token, self.clock(), self.lease_seconds)
            except Unavailable:  # cannot tell: the write stays on this server for now
                kept = True
            if not kept:
                raise LeaseLost(f"lease {token} on {host} taken over by another holder")
            return write()

        return await self._run(checked)

    async def _order(self, host: str, state: CertState, token: int) -> CertState:
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
            failed = state
            await self._fenced(host, token, lambda: self.store.put_state(failed, token))
            if e.permanent:
                log.error("%s: the CA refuses this name, no more orders: %s", host, e)
            else:
                log.warning("%s: order failed (%s); next try in %.0f s", host, e, delay)
            return state
        saved = await self._fenced(
            host, token, lambda: self.store.save(host, chain, key, CertState(host), token)
        )
        ari = await loop.run_in_executor(self.executor, self.issuer.renewal_window, chain)
        assert saved.not_before is not None
        assert saved.not_after is not None
        state = replace(saved, renew_at=renew_at(saved.not_before, saved.not_after, ari))
        await self._fenced(host, token, lambda: self.store.put_state(state, token))
        log.info("%s: certificate valid until %s", host, time.ctime(state.not_after))
        return state


def _ari(state: CertState) -> float | None:
    """The stored renewal time when it came from the CA's window (earlier than a third)."""
    if state.renew_at is None or state.not_before is None or state.not_after is None:
        return None
    return state.renew_at if state.renew_at < renew_at(state.not_before, state.not_after) else None
