"""The admin listener: `/api/events`, `/api/stats`, `/metrics`, `/healthz`, and the admin
page under `/ui/` (`proxy.admin.web`).

`/api/*` needs `Authorization: Bearer <token>` (the token is in the data folder). Reads
run in a thread of their own so that a slow query never stalls the loop; so does a
scrape of `/metrics`, which reads the spool's size, the shared metric files, and the
certificates and domains of the data folder.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from config import Settings
from proxy.admin.domain_calls import DOMAIN_CALLS, DomainCalls
from proxy.admin.domain_routes import add_domain_routes
from proxy.admin.errors import error_responses
from proxy.admin.host_metrics import certificate_families, host_families
from proxy.admin.query import QueryError, event_filter
from proxy.admin.web import Readers, add_admin_pages
from proxy.data_folder import open_spool, open_store
from proxy.domains.service import open_domain_service
from redirector import metrics
from redirector.recording.event_reader import read_events, read_stats
from redirector.recording.event_store import EventStore, StoreUnavailable
from redirector.recording.spool import Spool

log = logging.getLogger("trackway.admin")


@dataclass
class AdminState:
    settings: Settings
    token: str
    spool: Spool
    executor: ThreadPoolExecutor
    store: EventStore | None = None

    def reader(self) -> EventStore:
        """The database, opened on first use; StoreUnavailable if it cannot be."""
        if self.store is None:
            self.store = open_store(self.settings, pooled=True)
        return self.store

    def reader_if_available(self) -> EventStore | None:
        try:
            return self.reader()
        except StoreUnavailable:
            return None  # events are still read from the spool


ADMIN_STATE = web.AppKey("admin_state", AdminState)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        expected = request.app[ADMIN_STATE].token
        given = request.headers.get("Authorization", "")
        scheme, _, credentials = given.partition(" ")
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), expected.encode()
        )
        if not ok:
            return web.json_response(
                {"error": "unauthorized: send Authorization: Bearer <admin token>"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="trackway"'},
            )
    return await handler(request)


async def _in_thread(request: web.Request, fn: Callable[[], Any]) -> Any:
    state = request.app[ADMIN_STATE]
    return await asyncio.get_running_loop().run_in_executor(state.executor, fn)


async def api_events(request: web.Request) -> web.Response:
    state = request.app[ADMIN_STATE]
    flt = event_filter(request.query)
    events = await _in_thread(
        request, lambda: read_events(state.reader_if_available(), state.spool, flt)
    )
    next_cursor = events[-1].id if len(events) == flt.limit else None
    return web.json_response({"events": [e.public() for e in events], "next_cursor": next_cursor})


async def api_stats(request: web.Request) -> web.Response:
    state = request.app[ADMIN_STATE]
    message_id = request.query.get("message_id", "")
    if not message_id:
        raise QueryError("message_id is required")

    def compute() -> dict[str, Any]:
        return read_stats(state.reader(), state.spool, message_id).as_dict()

    return web.json_response(await _in_thread(request, compute))


async def metrics_page(request: web.Request) -> web.Response:
    state = request.app[ADMIN_STATE]
    body = await _in_thread(request, lambda: metrics.exposition(_read_now(state)))
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _read_now(state: AdminState) -> list[Metric]:
    """What the data folder holds now: the spool's size, certificates, tracking hosts."""
    spool = GaugeMetricFamily(
        "trackway_spool_bytes",
        "Bytes in the spool files: not loaded into the database yet, or loaded and not "
        "yet deleted",
        value=state.spool.size(),
    )
    try:
        with open_domain_service(state.settings) as service:
            hosts = service.store.hosts()
            names = service.certificate_hosts()
            certificates = [service.certs.state(name) for name in names]
            present = {name for name in names if service.certs.has_certificate(name)}
    except (sqlite3.Error, OSError, StoreUnavailable) as e:
        # A damaged domains.db, a database down: the click metrics still.
        log.error("/metrics without certificates and domains: %s", e)
        return [spool]
    return [spool, *certificate_families(certificates, present), *host_families(hosts)]


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def _readers(state: AdminState) -> Readers:
    """The admin page reads as `/api/stats` and `/api/events` do, in the same thread."""

    async def in_thread(fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(state.executor, fn)

    return Readers(
        stats=lambda message_id: read_stats(state.reader(), state.spool, message_id, by_day=True),
        in_thread=in_thread,
    )


def build_admin_app(settings: Settings, token: str) -> web.Application:
    app = web.Application(middlewares=[bearer_auth, error_responses])
    # One thread: the event store's one connection is used by one reader at a time.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trackway-admin")
    app[ADMIN_STATE] = AdminState(settings, token, open_spool(settings), executor)
    # Domain calls apart (a service each): one waiting on a locked domains.db for its 5 s
    # never holds up /metrics or the events API, nor the other domain calls.
    domain_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="trackway-domains")
    app[DOMAIN_CALLS] = DomainCalls(settings, domain_pool)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        yield
        state = app[ADMIN_STATE]
        if state.store is not None:
            state.store.close()
        executor.shutdown(wait=False)
        domain_pool.shutdown(wait=False)

    app.cleanup_ctx.append(resources)
    app.router.add_get("/api/events", api_events)
    app.router.add_get("/api/stats", api_stats)
    add_domain_routes(app, settings)
    add_admin_pages(app, settings, token, _readers(app[ADMIN_STATE]))
    app.router.add_get("/metrics", metrics_page)
    app.router.add_get("/healthz", healthz)
    return app
