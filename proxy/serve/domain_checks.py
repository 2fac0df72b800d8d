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
        with open_domain_service(settings) as service:
            await service.check_all()
        return True
    except StoreUnavailable as e:  # the database down: the next round tries again
        log.error("periodic domain checks skipped: %s", e)
    except Exception:
        log.exception("periodic domain checks failed")
    return False
