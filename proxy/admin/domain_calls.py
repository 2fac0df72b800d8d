"""The domain service off the event loop, for the admin API's routes and the admin page:
its SQLite (a writer may hold the lock for up to the 5 s busy timeout) and certificate
files are read in the admin's thread pool, so that `/healthz` and `/metrics` answer
meanwhile; only a verify's checks, network I/O, are awaited on the loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from config import Settings
from proxy.domains.service import DomainService, open_domain_service
from proxy.domains.status import HostStatus

__all__ = ["DOMAIN_CALLS", "DomainCalls", "domain_calls"]

T = TypeVar("T")


@dataclass(frozen=True)
class DomainCalls:
    settings: Settings
    executor: Executor

    async def run(self, fn: Callable[[DomainService], T]) -> T:
        """`fn` on a service opened, used and closed in the pool."""

        def call() -> T:
            with open_domain_service(self.settings) as service:
                return fn(service)

        return await self._in_pool(call)

    async def verify(self, name: str) -> list[HostStatus]:
        """`DomainService.verify`: the service opened and closed in the pool."""
        stack = contextlib.ExitStack()
        service = await self._in_pool(
            lambda: stack.enter_context(open_domain_service(self.settings))
        )
        try:
            return await service.verify(name)
        finally:
            await self._in_pool(stack.close)

    async def _in_pool(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)


DOMAIN_CALLS = web.AppKey("domain_calls", DomainCalls)


def domain_calls(request: web.Request) -> DomainCalls:
    """The admin application's, from its routes and its sub-application's pages alike."""
    return request.config_dict[DOMAIN_CALLS]
