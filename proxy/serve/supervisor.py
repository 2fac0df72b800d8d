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
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

from aiohttp import web

from config import Settings
from config.datafolder import ensure_data_dir
from config.settings import parse_host_port
from proxy.admin.app import build_admin_app
from proxy.data_folder import ADMIN_TOKEN_FILE, admin_token, client_salt, open_store
from proxy.domains.service import open_domain_service
from proxy.serve.cert_maintenance import maintain_forever
from proxy.serve.processes import (
    SHUTDOWN_SECONDS,
    clear_shared_metrics,
    run,
    start_process,
    stop_event,
)
from proxy.serve.worker import worker_main
from proxy.serve.writer_process import writer_main
from redirector import load_keyring, metrics
from redirector.recording.event_store import StoreUnavailable

log = logging.getLogger("trackway.server")


def serve(settings: Settings, workers: int) -> int:
    settings = dataclasses.replace(settings, data=ensure_data_dir(settings.data.resolve()))
    clear_shared_metrics(settings)
    start_process(settings)
    data = settings.data
    # Made here, once, before the other processes race for them.
    admin_token(data)
    client_salt(data)
    load_keyring(data, int(time.time()))
    _create_database(settings)
    host, port = parse_host_port(settings.server.http, "--http")
    reserved = None
    if port == 0:  # one real port for every worker: reserve it before they bind
        reserved = _reuseport_socket(host, 0)
        port = reserved.getsockname()[1]
    else:
        # A taken port is a clear error now, not workers failing and restarted forever.
        _reuseport_socket(host, port).close()
    if settings.server.https:
        _reuseport_socket(*parse_host_port(settings.server.https, "--https")).close()
    try:
        run(_supervise(settings, host, port, max(1, workers)))
    finally:
        if reserved is not None:
            reserved.close()
    return 0


def _create_database(settings: Settings) -> None:
    """The schema, before any process reads it (the writer may not have loaded
    anything yet when the first reader comes)."""
    try:
        open_store(settings).close()
    except StoreUnavailable as e:  # events wait in the spool until it works
        log.error("at start: %s", e)


def _reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _announce(settings: Settings, public: str, workers: int, admin: str) -> None:
    lines = [
        f"trackway: public listener {public} ({workers} worker{'s' if workers > 1 else ''})",
        *([f"trackway: https listener {settings.server.https}"] if settings.server.https else []),
        f"trackway: admin listener {admin}",
        f"trackway: data folder {settings.data}",
        f"trackway: admin token in {settings.data / ADMIN_TOKEN_FILE}",
    ]
    print("\n".join(lines), flush=True)


async def _start_admin(settings: Settings) -> tuple[web.AppRunner, str]:
    host, port = parse_host_port(settings.server.admin, "--admin")
    runner = web.AppRunner(build_admin_app(settings, admin_token(settings.data)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    bound_host, bound_port = sockets[0].getsockname()[:2]
    return runner, _http_url(bound_host, bound_port)


async def _supervise(settings: Settings, host: str, port: int, workers: int) -> None:
    stop = stop_event()
    context = multiprocessing.get_context("spawn")

    def spawn(target: Callable[..., None], *args: Any) -> BaseProcess:
        process = context.Process(target=target, args=(settings, *args), name="trackway")
        process.start()
        return process

    writer = spawn(writer_main)
    processes = [spawn(worker_main, host, port) for _ in range(workers)]
    admin_runner, admin_url = await _start_admin(settings)
    _announce(settings, _http_url(host, port), workers, admin_url)
    monitor = asyncio.create_task(_check_domains_periodically(settings))
    maintainer = asyncio.create_task(maintain_forever(settings)) if settings.acme.enabled else None
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        if stop.is_set():
            break
        if not writer.is_alive():
            log.error("writer process exited (%s); starting another", writer.exitcode)
            _mark_dead(writer.pid)
            writer = spawn(writer_main)
        for i, process in enumerate(processes):
            if not process.is_alive():
                log.error("worker %s exited (%s); starting another", process.pid, process.exitcode)
                _mark_dead(process.pid)
                processes[i] = spawn(worker_main, host, port)
    monitor.cancel()
    if maintainer is not None:
        maintainer.cancel()
    log.info("stopping: %d workers, then the writer", len(processes))
    await _terminate(processes)
    await _terminate([writer])
    await admin_runner.cleanup()


async def _check_domains_periodically(settings: Settings) -> None:
    """Every `checks.interval`: re-check every host, so a status change (an expired
    certificate, a CNAME moved away, a new HSTS policy) reaches new links by itself."""
    await asyncio.sleep(min(5.0, settings.checks.interval))
    while True:
        with open_domain_service(settings) as service:
            try:
                await service.check_all()
            except Exception:
                log.exception("periodic domain checks failed")
        await asyncio.sleep(settings.checks.interval)


async def _terminate(processes: list[BaseProcess]) -> None:
    for process in processes:
        if process.is_alive() and process.pid:
            os.kill(process.pid, signal.SIGTERM)
    loop = asyncio.get_running_loop()
    for process in processes:
        await loop.run_in_executor(None, process.join, SHUTDOWN_SECONDS + 5)
        if process.is_alive():
            process.kill()


def _mark_dead(pid: int | None) -> None:
    if pid:
        metrics.forget_process(pid)
