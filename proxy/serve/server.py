"""`trackway serve`: the processes and their listeners.

This process supervises and serves the admin listener. Beside it run N workers, each
with a public socket bound with SO_REUSEPORT so that the kernel spreads connections
over them, and one writer process: the only SQLite writer of the data folder, which
loads the events that workers made durable in their spool files. A process that dies
is started again. SIGTERM: the workers stop accepting and answer their in-flight
requests (each durable in the spool before its answer), then the writer loads what is
left and stops, then this process.
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
from collections.abc import Callable, Coroutine
from multiprocessing.process import BaseProcess
from typing import Any

from aiohttp import web

from certs.challenges import ChallengeStore
from certs.sni import SniCertificates
from certs.store import CertStore
from config import Settings
from config.settings import parse_host_port
from proxy.admin.app import build_admin_app
from proxy.data_folder import ADMIN_TOKEN_FILE, admin_token, client_salt, open_spool, open_store
from proxy.domains.service import open_domain_service
from proxy.serve.cert_maintenance import maintain_forever
from proxy.serve.public_app import PublicService
from proxy.serve.tls_listener import PeekingTlsListener
from redirector import load_keyring
from redirector.recording.bot_rules import BurstPolicy
from redirector.recording.cpu_idle import CpuIdleMeter
from redirector.recording.event_store import StoreUnavailable
from redirector.recording.load_pacing import rest_after_load
from redirector.recording.spool_loader import SpoolLoader
from redirector.recording.spool_writer import SpoolWriter

log = logging.getLogger("trackway.server")
SHUTDOWN_SECONDS = 10.0
CERT_RELOAD_SECONDS = 2.0
LOAD_IDLE_SECONDS = 0.05  # how soon a click reaches the database when all is quiet


def run(coro: Coroutine[Any, Any, None]) -> None:
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
    settings = dataclasses.replace(settings, data=settings.data.resolve())
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
        log.error("database unavailable at start: %s", e)


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


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


# -- the writer process -------------------------------------------------------------


def writer_main(settings: Settings) -> None:
    configure_logging()
    run(_writer(settings))


async def _writer(settings: Settings) -> None:
    """Loads the workers' spool files into the database until stopped; then, once the
    workers are gone (the supervisor stops them first), loads what is left."""
    stop = _stop_event()
    loader = SpoolLoader(
        lambda: open_store(settings),
        open_spool(settings),
        BurstPolicy(settings.clicks.burst_links, settings.clicks.burst_seconds),
        settings.store.spool_retry_seconds,
    )
    cpu = CpuIdleMeter()
    try:
        while not stop.is_set():
            started = time.monotonic()
            if loader.load() == 0:  # caught up (or waiting for the database): rest a little
                rest = LOAD_IDLE_SECONDS
            else:
                spent = time.monotonic() - started
                backlog = loader.spool.size()
                rest = rest_after_load(
                    spent, cpu.idle_share(), backlog, settings.store.load_priority
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rest)
        loader.load_all()
    finally:
        loader.close()


# -- a worker -----------------------------------------------------------------------


def worker_main(settings: Settings, host: str, port: int) -> None:
    configure_logging()
    run(_worker(settings, host, port))


async def _worker(settings: Settings, host: str, port: int) -> None:
    stop = _stop_event()
    writer = SpoolWriter(open_spool(settings, sync=settings.store.synchronous == "full"))
    service = PublicService(settings, writer=writer)
    await service.start()
    listeners = [await service.listen(host, port, reuse_port=True)]
    reloader = None
    peeking: PeekingTlsListener | None = None
    if settings.server.https:
        tls_host, tls_port = parse_host_port(settings.server.https, "--https")
        certificates = SniCertificates(CertStore(settings.data))
        certificates.reload(force=True)
        if settings.acme.challenge == "tls-alpn-01":
            peeking = PeekingTlsListener(
                service.protocol, certificates, ChallengeStore(settings.data)
            )
            await peeking.start(tls_host, tls_port)
        else:
            context = certificates.server_context()
            listeners.append(await service.listen(tls_host, tls_port, context, reuse_port=True))
        reloader = asyncio.create_task(_reload_certificates(certificates))
    await stop.wait()
    if reloader is not None:
        reloader.cancel()
    for listener in listeners:
        listener.close()  # stop accepting; open connections stay for their answers
    if peeking is not None:
        await peeking.close()
    await service.close(SHUTDOWN_SECONDS)  # answers what is in flight, makes it durable


async def _reload_certificates(certificates: SniCertificates) -> None:
    """New and renewed certificates are served within seconds, without a restart."""
    while True:
        await asyncio.sleep(CERT_RELOAD_SECONDS)
        try:
            if certificates.reload():
                log.info("certificates reloaded: %d names", len(certificates.names()))
        except OSError as e:
            log.error("certificates not reloaded: %s", e)


# -- the supervisor -----------------------------------------------------------------


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
    stop = _stop_event()
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
    if pid and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
