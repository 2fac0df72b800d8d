"""The live map of tracking hosts in a running worker: which hosts are ours
(`own_hosts()`), where each proxied host's requests go (`current()`), and the app-link
files each host serves (`app_links()`).

The click path reads it per request (memory only); `watch()` keeps it in step with the
domain store whichever process or server changed it (`trackway domains proxy`,
`trackway domains app-links` from the CLI, the admin API): it looks at the store's
version about every second and reads the routes and files again when it moved. The
store is read on one thread of its own, so the event loop never waits on it; a failed
read keeps the last good map, said in one log line until a read succeeds again, and the
store is opened anew (a database's connection may be gone with its restart).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Container, Mapping
from concurrent.futures import ThreadPoolExecutor
from types import MappingProxyType

from certs.store import CertStore
from config import Settings
from proxy.domains.domain_settings import DomainSettings
from proxy.domains.service import DomainService
from proxy.domains.store import AppLinks, SqliteDomainStore
from proxy.upstream.route import UpstreamRoute

log = logging.getLogger("trackway.domains")
POLL_SECONDS = 1.0
# What a read gives: the routes, every tracking host, the app-link files.
Read = tuple[dict[str, UpstreamRoute], frozenset[str], dict[str, "AppLinks"]]


class _RouteReader:
    """The domain store read for routes when its version moved. Used on one thread only
    (a SQLite connection stays on the thread that made it)."""

    def __init__(self, settings: Settings) -> None:
        # domains.db: with `[store] url` the database's mirror (`proxy.store.sync`),
        # which serves while the database is down.
        self.store = SqliteDomainStore(settings.data)
        self.service = DomainService(
            DomainSettings.from_settings(settings), self.store, CertStore(settings.data)
        )
        self.seen: int | None = None

    def changed_routes(self) -> Read | None:
        """The routes, every tracking host of the store and the app-link files, if the
        store changed since the last read that succeeded, else None."""
        version = self.store.version()
        if version == self.seen:
            return None
        routes = self.service.proxy_routes()
        hosts = self.store.hosts()
        files = {h.host: h.app_links for h in hosts if h.app_links.is_set}
        self.seen = version
        return routes, frozenset(h.host for h in hosts), files

    def close(self) -> None:
        self.store.close()


class EveryHost:
    """Every host is ours: a server that knows no tracking host at all (a first run, a
    test on 127.0.0.1) serves its links whatever the Host."""

    def __contains__(self, host: object) -> bool:
        return True


EVERY_HOST = EveryHost()


class LiveRoutes:
    def __init__(self, settings: Settings, poll_seconds: float = POLL_SECONDS) -> None:
        self.settings = settings
        self.poll_seconds = poll_seconds
        self._routes: Mapping[str, UpstreamRoute] = MappingProxyType({})
        self._settings_hosts = settings.own_hosts()
        self._own: Container[str] = self._settings_hosts or EVERY_HOST
        self._app_links: Mapping[str, AppLinks] = MappingProxyType({})

    def current(self) -> Mapping[str, UpstreamRoute]:
        """The proxied hosts' routes as last read (read-only)."""
        return self._routes

    def own_hosts(self) -> Container[str]:
        """The hosts whose requests are ours: the settings' hosts (base URL, regions,
        `tracking_hosts`) and every tracking host of the store, proxied or not. Any
        host when there is none (`EVERY_HOST`). A request for another host is answered
        421 but on trackway's own paths (`proxy.upstream.routing`)."""
        return self._own

    def app_links(self) -> Mapping[str, AppLinks]:
        """The hosts' app-link files as last read (read-only): only hosts with one."""
        return self._app_links

    def load(self) -> None:
        """Read the routes now, blocking: once, before a worker serves. A failure is
        logged, and `watch()` tries again."""
        try:
            reader = _RouteReader(self.settings)
            try:
                self._set(*(reader.changed_routes() or ({}, frozenset(), {})))
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
                    if reader is not None:
                        await loop.run_in_executor(pool, _close_quietly, reader)
                        reader = None
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

    def _set(
        self,
        routes: Mapping[str, UpstreamRoute],
        hosts: frozenset[str],
        files: Mapping[str, AppLinks],
    ) -> None:
        self._own = (self._settings_hosts | hosts) or EVERY_HOST
        if routes != self._routes:
            log.info(
                "proxied hosts: %s",
                ", ".join(f"{h} -> {r.upstream}" for h, r in sorted(routes.items())) or "none",
            )
        self._routes = MappingProxyType(dict(routes))
        if files != self._app_links:
            log.info("app links: %s", ", ".join(_described(files)) or "none")
        self._app_links = MappingProxyType(dict(files))


def _close_quietly(reader: _RouteReader) -> None:
    try:
        reader.close()
    except Exception:  # closing what already failed: nothing more to say
        log.debug("closing the route reader failed", exc_info=True)


def _described(files: Mapping[str, AppLinks]) -> list[str]:
    return [
        f"{host} ({', '.join(n for n, v in zip(('apple', 'android'), f, strict=True) if v)})"
        for host, f in sorted(files.items())
    ]
