"""Which hosts get certificates, and keeping them: the glue of domains and certs/.

A tracking host gets a certificate once its sending domain is verified and its CNAME
and HTTP checks pass (HTTP-01 needs exactly that), and keeps being renewed while it has
one (`DomainService.hosts_to_certify`). The regions' default hosts get theirs too, once
their HTTP reaches this server. After each new certificate of a tracking host its domain
is checked again, so `https` turns green (and new links use https) at once.

The running server acts within seconds of a change to the domains, whichever process
made it (`trackway domains verify` from the CLI, the admin API, another server): it
watches the domain store's version, and otherwise looks every `[acme] check_interval`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from certs.manager import CertManager
from certs.store import CertState
from config import Settings
from proxy.domains.service import DomainService, open_domain_service
from proxy.domains.store import DomainStore, open_domain_store
from proxy.store.certs import open_cert_manager

log = logging.getLogger("trackway.certs")
WATCH_SECONDS = 1.0  # how often the domain store's version is looked at
VERIFY_ATTEMPTS = 8
VERIFY_PAUSE_SECONDS = 1.5  # workers reload certificates every 2 s


async def maintain_once(service: DomainService, manager: CertManager) -> list[CertState]:
    states = []
    hosts = service.hosts_to_certify()
    hosts += [h for h in await service.region_hosts_reaching_us() if h not in hosts]
    for host in hosts:
        before = manager.store.state(host)
        try:
            state = await manager.ensure(host)
        except Exception:  # a bug or a full disk: said, and the round goes on
            log.exception("%s: certificate not maintained", host)
            continue
        states.append(state)
        if state.not_after != before.not_after and service.is_tracking_host(host):
            await _verify_once_served(service, host)
    return states


async def _verify_once_served(service: DomainService, host: str) -> None:
    """Check the host again once its new certificate is served: workers load new
    certificates within seconds, so its https is tried a few times before it stays red
    until the next periodic check."""
    for attempt in range(VERIFY_ATTEMPTS):
        if attempt:
            await asyncio.sleep(VERIFY_PAUSE_SECONDS)
        statuses = await service.verify(host)
        if all(status.https == "green" for status in statuses):
            return


async def maintain_forever(settings: Settings) -> None:
    manager = open_cert_manager(settings)
    # The watched store lives on a thread of its own: a database's answer never holds up
    # the supervisor's loop, and a SQLite connection stays on the thread that made it.
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackway-cert-watch")
    watched: DomainStore | None = None
    seen: int | None = None
    last = -float("inf")
    try:
        while True:
            try:
                if watched is None:
                    watched = await loop.run_in_executor(pool, open_domain_store, settings)
                version: int | None = await loop.run_in_executor(pool, watched.version)
            except Exception as e:  # a database down: looked at again, the store anew
                if watched is not None:
                    await loop.run_in_executor(pool, watched.close)
                watched, version = None, seen
                log.debug("domain store's version not read: %s", e)
            if version != seen or time.monotonic() - last >= settings.acme.check_interval:
                seen, last = version, time.monotonic()
                try:
                    with open_domain_service(settings) as service:
                        await maintain_once(service, manager)
                except Exception:
                    log.exception("certificate maintenance failed")
            await asyncio.sleep(WATCH_SECONDS)
    finally:
        if watched is not None:
            pool.submit(watched.close)
        pool.shutdown(wait=False)
        manager.close()
