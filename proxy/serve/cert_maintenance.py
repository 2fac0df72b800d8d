"""Which hosts get certificates, and keeping them: the glue of domains and certs/.

A host gets a certificate once its sending domain is verified and its CNAME and HTTP
checks pass (HTTP-01 needs exactly that), and keeps being renewed while it has one.
After each new certificate its domain is checked again, so `https` turns green (and new
links use https) without waiting for the next periodic check.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from certs.manager import CertManager
from certs.store import CertState
from config import Settings
from proxy.domains.service import DomainService

log = logging.getLogger("trackway.certs")


def eligible(host: Any) -> bool:
    status, checks = host.status or {}, host.checks or {}
    return bool(
        status.get("ownership") == "verified"
        and status.get("cname") == "ok"
        and (checks.get("http") or {}).get("ok")
    )


async def maintain_once(settings: Settings, manager: CertManager) -> list[CertState]:
    service = DomainService(settings)
    try:
        hosts = {h.host for h in service.store.hosts() if eligible(h)}
        hosts |= set(manager.store.hosts()) & {h.host for h in service.store.hosts()}
        states = []
        for host in sorted(hosts):
            before = manager.store.state(host)
            state = await manager.ensure(host)
            states.append(state)
            if state.not_after != before.not_after:
                await service.verify(host)
        return states
    finally:
        service.close()


async def maintain_forever(settings: Settings) -> None:
    manager = CertManager(settings.data, settings.acme)
    try:
        while True:
            try:
                await maintain_once(settings, manager)
            except Exception:
                log.exception("certificate maintenance failed")
            await asyncio.sleep(settings.acme.check_interval)
    finally:
        manager.close()
