"""Which hosts get certificates, and keeping them: the glue of domains and certs/.

A host gets a certificate once its sending domain is verified and its CNAME and HTTP
checks pass (HTTP-01 needs exactly that), and keeps being renewed while it has one
(`DomainService.hosts_to_certify`). After each new certificate its domain is checked
again, so `https` turns green (and new links use https) without waiting for the next
periodic check.
"""

from __future__ import annotations

import asyncio
import logging

from certs.manager import CertManager
from certs.store import CertState
from config import Settings
from proxy.domains.service import DomainService, open_domain_service

log = logging.getLogger("trackway.certs")


async def maintain_once(service: DomainService, manager: CertManager) -> list[CertState]:
    states = []
    for host in service.hosts_to_certify():
        before = manager.store.state(host)
        state = await manager.ensure(host)
        states.append(state)
        if state.not_after != before.not_after:
            await service.verify(host)
    return states


async def maintain_forever(settings: Settings) -> None:
    manager = CertManager(settings.data, settings.acme)
    try:
        while True:
            try:
                with open_domain_service(settings) as service:
                    await maintain_once(service, manager)
            except Exception:
                log.exception("certificate maintenance failed")
            await asyncio.sleep(settings.acme.check_interval)
    finally:
        manager.close()
