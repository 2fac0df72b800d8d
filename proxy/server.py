"""`trackway serve`: the listeners and the worker processes.

With one worker everything runs in this process. With more, this process supervises
(restarting a worker that dies) and serves the admin listener; each worker is a process
of its own with a public socket bound with SO_REUSEPORT, so the kernel spreads
connections over them. SIGTERM stops accepting, lets in-flight requests finish and
commits every queued event before exit.
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
import sys
import time
from collections.abc import Coroutine
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from aiohttp import web

from config import Settings
from config.settings import parse_host_port
from proxy.admin import build_admin_app
from proxy.public_app import build_public_app
from proxy.state import ADMIN_TOKEN_FILE, admin_token, client_salt
from redirector import load_keyring

log = logging.getLogger("trackway.server")
SHUTDOWN_SECONDS = 10.0


def run(coro: Coroutine[Any, Any, None]) -> None:
    # The writer thread needs the GIL for a moment per batch; with the default 5 ms
    # switch interval it waits that long behind the busy loop, and so does every click.
    sys.setswitchinterval(0.0001)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(coro)
    else:
        uvloop.run(coro)


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format=f"trackway[{os.getpid()}] %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def serve(settings: Settings, workers: int) -> int:
    configure_logging()
    data = settings.data.resolve()
    settings = _with_data(settings, data)
    # Made here, once, before any worker races for them.
    admin_token(data)
    client_salt(data)
    load_keyring(data, int(time.time()))
    host, port = parse_host_port(settings.server.http, "--http")
    if workers <= 1:
        run(_single_process(settings, host, port))
        return 0
    reserved = None
    if port == 0:  # one real port for every worker: reserve it before they bind
        reserved = _reuseport_socket(host, 0)
        port = reserved.getsockname()[1]
    try:
        run(_supervise(settings, host, port, workers))
    finally:
        if reserved is not None:
            reserved.close()
    return 0


def _with_data(settings: Settings, data: Path) -> Settings:
    return dataclasses.replace(settings, data=data)


def _reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _announce(settings: Settings, public: str, workers: int, admin: str) -> None:
    lines = [
        f"trackway: public listener {public} ({workers} worker{'s' if workers > 1 else ''})",
        f"trackway: admin listener {admin}",
        f"trackway: data folder {settings.data}",
        f"trackway: admin token in {settings.data / ADMIN_TOKEN_FILE}",
    ]
    print("\n".join(lines), flush=True)


def _url(site: web.TCPSite) -> str:
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    host, port = sockets[0].getsockname()[:2]
    return f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"


async def _start_admin(settings: Settings) -> tuple[web.AppRunner, web.TCPSite]:
    host, port = parse_host_port(settings.server.admin, "--admin")
    runner = web.AppRunner(build_admin_app(settings, admin_token(settings.data)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, site


async def _start_public(
    settings: Settings, host: str, port: int, reuse_port: bool
) -> tuple[web.AppRunner, web.TCPSite]:
    runner = web.AppRunner(
        build_public_app(settings),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_SECONDS,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None, backlog=2048)
    await site.start()
    return runner, site


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _single_process(settings: Settings, host: str, port: int) -> None:
    stop = _stop_event()
    public_runner, public_site = await _start_public(settings, host, port, reuse_port=False)
    admin_runner, admin_site = await _start_admin(settings)
    _announce(settings, _url(public_site), 1, _url(admin_site))
    await stop.wait()
    log.info("stopping: finishing in-flight requests and flushing events")
    await public_runner.cleanup()
    await admin_runner.cleanup()


def worker_main(settings: Settings, host: str, port: int) -> None:
    configure_logging()
    run(_worker(settings, host, port))


async def _worker(settings: Settings, host: str, port: int) -> None:
    stop = _stop_event()
    runner, _ = await _start_public(settings, host, port, reuse_port=True)
    await stop.wait()
    await runner.cleanup()


async def _supervise(settings: Settings, host: str, port: int, workers: int) -> None:
    stop = _stop_event()
    context = multiprocessing.get_context("spawn")

    def spawn() -> BaseProcess:
        process = context.Process(
            target=worker_main, args=(settings, host, port), name="trackway-worker"
        )
        process.start()
        return process

    processes = [spawn() for _ in range(workers)]
    admin_runner, admin_site = await _start_admin(settings)
    public = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    _announce(settings, public, workers, _url(admin_site))
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        for i, process in enumerate(processes):
            if not stop.is_set() and not process.is_alive():
                log.error("worker %s exited (%s); starting another", process.pid, process.exitcode)
                _mark_dead(process.pid)
                processes[i] = spawn()
    log.info("stopping %d workers", len(processes))
    for process in processes:
        if process.is_alive() and process.pid:
            os.kill(process.pid, signal.SIGTERM)
    loop = asyncio.get_running_loop()
    for process in processes:
        await loop.run_in_executor(None, process.join, SHUTDOWN_SECONDS + 5)
        if process.is_alive():
            process.kill()
    await admin_runner.cleanup()


def _mark_dead(pid: int | None) -> None:
    if pid and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
