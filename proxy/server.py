"""`trackway serve`: the processes and their listeners.

This process supervises and serves the admin listener. Beside it run one writer process
(the only SQLite writer of the data folder) and N workers, each with a public socket
bound with SO_REUSEPORT so that the kernel spreads connections over them. A process
that dies is started again. SIGTERM: the workers stop accepting, finish their in-flight
requests (whose events the writer commits), then the writer stops, then this process.
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
import tempfile
import time
from collections.abc import Callable, Coroutine
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from aiohttp import web

from certs.challenges import ChallengeStore
from certs.sni import SniCertificates
from certs.store import CertStore
from config import Settings
from config.settings import parse_host_port
from proxy.admin import build_admin_app
from proxy.cert_maintenance import maintain_forever
from proxy.domain_service import DomainService
from proxy.public_app import PublicService
from proxy.state import ADMIN_TOKEN_FILE, admin_token, client_salt, open_store
from proxy.tls_listener import PeekingTlsListener
from redirector import load_keyring
from redirector.batch_committer import BatchCommitter
from redirector.bot_rules import BurstPolicy
from redirector.remote_writer import RemoteWriter
from redirector.spool import Spool
from redirector.writer_service import WriterService

log = logging.getLogger("trackway.server")
SHUTDOWN_SECONDS = 10.0
CERT_RELOAD_SECONDS = 2.0
WRITER_SOCKET = "writer.sock"
_MAX_UNIX_PATH = 100  # sun_path holds 108 bytes


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
    socket_path = _writer_socket_path(data)
    try:
        run(_supervise(settings, host, port, max(1, workers), socket_path))
    finally:
        if reserved is not None:
            reserved.close()
    return 0


def _writer_socket_path(data: Path) -> Path:
    path = data / WRITER_SOCKET
    if len(str(path)) <= _MAX_UNIX_PATH:
        return path
    return Path(tempfile.mkdtemp(prefix="trackway-")) / WRITER_SOCKET  # a 0700 folder


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


def writer_main(settings: Settings, socket_path: Path) -> None:
    configure_logging()
    run(_writer(settings, socket_path))


async def _writer(settings: Settings, socket_path: Path) -> None:
    stop = _stop_event()
    committer = BatchCommitter(
        lambda: open_store(settings),
        Spool(settings.data),
        BurstPolicy(settings.clicks.burst_links, settings.clicks.burst_seconds),
        settings.store.spool_retry_seconds,
    )
    service = WriterService(committer, settings.clicks, client_salt(settings.data))
    await service.serve(socket_path, stop)


# -- a worker -----------------------------------------------------------------------


def worker_main(settings: Settings, host: str, port: int, socket_path: Path) -> None:
    configure_logging()
    run(_worker(settings, host, port, socket_path))


async def _worker(settings: Settings, host: str, port: int, socket_path: Path) -> None:
    stop = _stop_event()
    writer = RemoteWriter(
        socket_path, Spool(settings.data), settings.clicks, client_salt(settings.data)
    )
    await writer.connect(timeout=10)
    service = PublicService(settings, writer=writer)
    await service.start()
    runner = web.ServerRunner(
        service.server(), handle_signals=False, shutdown_timeout=SHUTDOWN_SECONDS
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_port=True, backlog=2048)
    await site.start()
    reloader = None
    peeking: PeekingTlsListener | None = None
    if settings.server.https:
        tls_host, tls_port = parse_host_port(settings.server.https, "--https")
        certificates = SniCertificates(CertStore(settings.data))
        certificates.reload(force=True)
        if settings.acme.challenge == "tls-alpn-01":
            assert runner.server is not None  # set up above
            peeking = PeekingTlsListener(
                runner.server, certificates, ChallengeStore(settings.data)
            )
            await peeking.start(tls_host, tls_port)
        else:
            tls_site = web.TCPSite(
                runner,
                tls_host,
                tls_port,
                ssl_context=certificates.server_context(),
                reuse_port=True,
                backlog=2048,
            )
            await tls_site.start()
        reloader = asyncio.create_task(_reload_certificates(certificates))
    await stop.wait()
    if reloader is not None:
        reloader.cancel()
    if peeking is not None:
        await peeking.close()
    await runner.cleanup()  # stops accepting and waits for the in-flight requests
    await service.close()  # then makes their events durable


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


async def _supervise(
    settings: Settings, host: str, port: int, workers: int, socket_path: Path
) -> None:
    stop = _stop_event()
    context = multiprocessing.get_context("spawn")

    def spawn(target: Callable[..., None], *args: Any) -> BaseProcess:
        process = context.Process(target=target, args=(settings, *args), name="trackway")
        process.start()
        return process

    writer = spawn(writer_main, socket_path)
    await _until(lambda: socket_path.exists() or not writer.is_alive(), 30)
    processes = [spawn(worker_main, host, port, socket_path) for _ in range(workers)]
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
            writer = spawn(writer_main, socket_path)
        for i, process in enumerate(processes):
            if not process.is_alive():
                log.error("worker %s exited (%s); starting another", process.pid, process.exitcode)
                _mark_dead(process.pid)
                processes[i] = spawn(worker_main, host, port, socket_path)
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
        service = DomainService(settings)
        try:
            await service.check_all()
        except Exception:
            log.exception("periodic domain checks failed")
        finally:
            service.close()
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


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


def _mark_dead(pid: int | None) -> None:
    if pid and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
