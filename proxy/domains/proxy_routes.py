"""The live map of tracking hosts in a running worker: where each proxied host's requests
go (`current()`), and the app-link files each host serves (`app_links()`).

The click path reads it per request (memory only); `watch()` keeps it in step with
`domains.db` whichever process changed it (`trackway domains proxy`, `trackway domains
app-links` from the CLI, the admin API): it looks at the store's version about every
second and reads the routes and files again when it moved. SQLite is read on one thread
of its own, so the event loop never waits on it; a failed read keeps the last good map,
said in one log line until a read succeeds again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType

from certs.store import CertStore
from config import Settings
from proxy.domains.domain_settings import DomainSettings
from proxy.domains.service import DomainService
from proxy.domains.store import AppLinks, DomainStore
from proxy.upstream.route import UpstreamRoute

log = logging.getLogger("trackway.domains")
POLL_SECONDS = 1.0


class _RouteReader:
    """The domain store read for routes when its version moved. Used on one thread only
    (a SQLite connection stays on the thread that made it)."""

    def __init__(self, settings: Settings) -> None:
        self.store = DomainStore(settings.data)
        self.service = DomainService(
            DomainSettings.from_settings(settings), self.store, CertStore(settings.data)
        )
        self.seen: int | None = None

    def changed_routes(self) -> tuple[dict[str, UpstreamRoute], dict[str, AppLinks]] | None:
        """The routes and app-link files if the store changed since the last read that
        succeeded, else None."""
        version = self.store.version()
        if version == self.seen:
            return None
        routes = self.service.proxy_routes()
        files = {h.host: h.app_links for h in self.store.hosts() if h.app_links.is_set}
        self.seen = version
        return routes, files

    def close(self) -> None:
        self.store.close()


class LiveRoutes:
    def __init__(self, settings: Settings, poll_seconds: float = POLL_SECONDS) -> None:
        self.settings = settings
        self.poll_seconds = poll_seconds
        self._routes: Mapping[str, UpstreamRoute] = MappingProxyType({})
        self._app_links: Mapping[str, AppLinks] = MappingProxyType({})

    def current(self) -> Mapping[str, UpstreamRoute]:
        """The proxied hosts' routes as last read (read-only)."""
        return self._routes

    def app_links(self) -> Mapping[str, AppLinks]:
        """The hosts' app-link files as last read (read-only): only hosts with one."""
        return self._app_links

    def load(self) -> None:
        """Read the routes now, blocking: once, before a worker serves. A failure is
        logged, and `watch()` tries again."""
        try:
            reader = _RouteReader(self.settings)
            try:
                self._set(*(reader.changed_routes() or ({}, {})))
            finally:
                reader.close()
        except Exception:
            log.exception("reading the proxied hosts failed; none until `watch()` reads them")

    async def watch(self) -> None:
        """Keep `current()` in step with the domain store until cancelled."""
        loop = asyncio.get_running_loop()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackway-routes")
        reader: _RouteReader | None = None
        failing = False
        try:
            while True:
                try:
                    if reader is None:
                        reader = await loop.run_in_executor(pool, _RouteReader, self.settings)
                    changed = await loop.run_in_executor(pool, reader.changed_routes)
                except Exception:
                    if not failing:
                        log.exception("reading the proxied hosts failed; keeping the last ones")
                    failing = True
                else:
                    if failing:
                        log.info("reading the proxied hosts works again")
                    failing = False
                    if changed is not None:
                        self._set(*changed)
                await asyncio.sleep(self.poll_seconds)
        finally:
            if reader is not None:
                pool.submit(reader.close)
            pool.shutdown(wait=False)

    def _set(self, routes: Mapping[str, UpstreamRoute], files: Mapping[str, AppLinks]) -> None:
        if routes != self._routes:
            log.info(
                "proxied hosts: %s",
                ", ".join(f"{h} -> {r.upstream}" for h, r in sorted(routes.items())) or "none",
            )
        self._routes = MappingProxyType(dict(routes))
        if files != self._app_links:
            log.info("app links: %s", ", ".join(_described(files)) or "none")
        self._app_links = MappingProxyType(dict(files))


def _described(files: Mapping[str, AppLinks]) -> list[str]:
    return [
        f"{host} ({', '.join(n for n, v in zip(('apple', 'android'), f, strict=True) if v)})"
        for host, f in sorted(files.items())
    ]
