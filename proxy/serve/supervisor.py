"""`trackway serve`: the supervisor, its processes and the admin listener.

This process supervises and serves the admin listener. Beside it run N workers
(`worker.py`), each with a public socket bound with SO_REUSEPORT so that the kernel
spreads connections over them, and one writer process (`writer_process.py`): the only
SQLite writer of the data folder, which loads the events that workers made durable in
their spool files. A process that dies is started again. SIGTERM: the workers stop
accepting and answer their in-flight requests (each durable in the spool before its
answer), then the writer loads what is left and stops, then this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import time
from typing import Any

from aiohttp import web

from config import Settings
from config.datafolder import ensure_data_dir
from proxy.admin.app import build_admin_app
from proxy.data_folder import (
    ADMIN_TOKEN_FILE,
    admin_token,
    client_salt,
    open_store,
    share_client_salt,
)
from proxy.domains.service import check_secret
from proxy.serve.cert_maintenance import maintain_forever
from proxy.serve.children import Child
from proxy.serve.domain_checks import check_domains_periodically
from proxy.serve.listeners import Listeners, bind_listeners
from proxy.serve.processes import (
    SHUTDOWN_SECONDS,
    clear_shared_metrics,
    run,
    start_process,
    stop_event,
)
from proxy.serve.worker import worker_main
from proxy.serve.writer_process import writer_main
from proxy.store.sync import keep_mirrors_in_step, pull_mirrors
from redirector.recording.event_store import StoreUnavailable

log = logging.getLogger("trackway.server")
WATCH_SECONDS = 0.5  # how soon a dead child is seen


def serve(settings: Settings, workers: int) -> int:
    """Run until SIGTERM or SIGINT; ListenError or ChildFailed (one line) when it cannot."""
    settings = dataclasses.replace(settings, data=ensure_data_dir(settings.data.resolve()))
    start_process(settings)
    data = settings.data
    # Made here, once, before the other processes race for them.
    admin_token(data)
    client_salt(data)
    check_secret(data)
    _create_database(settings)
    # The database's key ring and domains in keys.json and domains.db (an empty database
    # takes this ring), or the mirrors as they are while it is down: the workers read them.
    pull_mirrors(settings, int(time.time()))
    listeners = bind_listeners(settings.server, max(1, workers))
    try:
        # Only now: a start refused above must not wipe a running server's metrics.
        clear_shared_metrics(settings)
        run(_supervise(settings, listeners))
    finally:
        listeners.close()
    return 0


def _create_database(settings: Settings) -> None:
    """The schema, before any process reads it (the writer may not have loaded
    anything yet when the first reader comes); the client salt the servers of one
    database share, before the writer reads it."""
    try:
        open_store(settings).close()
        share_client_salt(settings)
    except StoreUnavailable as e:  # events wait in the spool until it works
        log.error("at start: %s", e)


def _http_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _announce(settings: Settings, listeners: Listeners) -> None:
    workers = len(listeners.workers)
    assert listeners.admin is not None
    lines = [
        f"trackway: public listener {_http_url(listeners.workers[0].bound()[0])} "
        f"({workers} worker{'s' if workers > 1 else ''})",
        *([f"trackway: https listener {settings.server.https}"] if settings.server.https else []),
        f"trackway: admin listener {_http_url(listeners.admin)}",
        f"trackway: data folder {settings.data}",
        f"trackway: admin token in {settings.data / ADMIN_TOKEN_FILE}",
    ]
    print("\n".join(lines), flush=True)


def _children(settings: Settings, listeners: Listeners) -> tuple[Child, list[Child]]:
    me = os.getpid()
    writer = Child("writer", writer_main, lambda: (settings, me))
    workers: list[Child] = []

    def worker(index: int) -> Child:
        def args() -> tuple[Any, ...]:
            http, *https = listeners.workers[index].bound()
            return settings, me, http, (https[0] if https else None)

        def died() -> None:
            listeners.release_dead(index, [w.alive() is not None for w in workers])

        return Child("worker", worker_main, args, on_death=died)

    workers += [worker(i) for i in range(len(listeners.workers))]
    return writer, workers


async def _supervise(settings: Settings, listeners: Listeners) -> None:
    stop = stop_event()  # first: SIGTERM is honoured from here on, whatever is starting
    writer, workers = _children(settings, listeners)
    children = [writer, *workers]
    admin = web.AppRunner(build_admin_app(settings, admin_token(settings.data)), access_log=None)
    background: list[asyncio.Task[None]] = []
    try:
        for child in children:
            child.start(time.monotonic())
        await admin.setup()
        assert listeners.admin is not None
        await web.SockSite(admin, listeners.admin).start()
        _announce(settings, listeners)
        background.append(asyncio.create_task(check_domains_periodically(settings)))
        if settings.acme.enabled:
            background.append(asyncio.create_task(maintain_forever(settings)))
        if settings.store.url:  # the database's keys, domains, certificates: into this folder
            background.append(asyncio.create_task(keep_mirrors_in_step(settings)))
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), WATCH_SECONDS)
            if not stop.is_set():
                for child in children:
                    child.watch(time.monotonic())
    finally:
        for task in background:
            task.cancel()
        # The workers hold the same sockets: once they let go too, new connections are
        # refused rather than queued where nobody will accept them.
        listeners.close()
        log.info("stopping: %d workers, then the writer", len(workers))
        await _terminate(workers)
        await _terminate([writer])
        await admin.cleanup()


async def _terminate(children: list[Child]) -> None:
    processes = [p for p in (child.alive() for child in children) if p is not None]
    for process in processes:
        if process.pid:
            os.kill(process.pid, signal.SIGTERM)
    loop = asyncio.get_running_loop()
    for process in processes:
        await loop.run_in_executor(None, process.join, SHUTDOWN_SECONDS + 5)
        if process.is_alive():
            process.kill()
