"""The periodic domain checks: every `[checks] interval`, every host is checked again, so
that a status change (an expired certificate, a CNAME moved away, a new HSTS policy)
reaches new links by itself.

The servers of a cluster share the statuses, so one of them checks each round: the one
that takes the `domain-checks` lease, for an interval. The lease is not released after
the round: the others skip their rounds until it lapses; a dead holder's lapses and
another server takes over. Alone, a server always holds it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time

from certs.lease import Leases
from config import Settings
from proxy.domains.service import open_domain_service
from proxy.store.certs import open_leases
from redirector.recording.event_store import StoreUnavailable

__all__ = ["CHECKS_LEASE", "check_domains_periodically", "check_round"]

log = logging.getLogger("trackway.server")
CHECKS_LEASE = "domain-checks"
FIRST_ROUND_SECONDS = 5.0  # after the start: the listeners are up by then


async def check_domains_periodically(settings: Settings) -> None:
    await asyncio.sleep(min(FIRST_ROUND_SECONDS, settings.checks.interval))
    leases = open_leases(settings)
    try:
        while True:
            await check_round(settings, leases)
            await asyncio.sleep(settings.checks.interval)
    finally:
        leases.close()


async def check_round(settings: Settings, leases: Leases) -> bool:
    """Every host checked, when this server takes the round's lease; whether it did."""
    try:
        token = await asyncio.to_thread(
            leases.acquire, CHECKS_LEASE, time.time(), settings.checks.interval
        )
        if token is None:
            log.debug("periodic domain checks: another server checks this round")
            return False
        await _on_a_loop_of_its_own(settings)
        return True
    except StoreUnavailable as e:  # the database down: the next round tries again
        log.error("periodic domain checks skipped: %s", e)
    except Exception as e:
        log.error("periodic domain checks failed: %r", e)
        log.debug("the failed round", exc_info=True)
    return False


async def _check_all(settings: Settings) -> None:
    with open_domain_service(settings) as service:
        await service.check_all()


async def _on_a_loop_of_its_own(settings: Settings) -> None:
    """The round on a thread and an event loop of its own: its store calls are
    synchronous, and a database that stops answering must hold up that thread, not the
    supervisor's loop (which watches the children). Cancelled with the caller (SIGTERM)."""
    started: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Task[None]]]
    started = concurrent.futures.Future()

    def run() -> None:
        loop = asyncio.new_event_loop()
        try:
            task = loop.create_task(_check_all(settings))
            started.set_result((loop, task))
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(task)
        finally:
            loop.close()
            if not started.done():  # nothing began: a cancel has nothing to stop
                started.cancel()

    done = asyncio.get_running_loop().run_in_executor(None, run)
    try:
        await asyncio.shield(done)
    except asyncio.CancelledError:
        with contextlib.suppress(concurrent.futures.CancelledError):
            loop, task = await asyncio.wrap_future(started)
            loop.call_soon_threadsafe(task.cancel)
        raise
