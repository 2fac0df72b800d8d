"""A worker process of `serve`: the public listeners (HTTP, and HTTPS with SNI).

Each worker serves its own sockets (SO_REUSEPORT, bound by the supervisor), so the
kernel spreads connections over the workers; its clicks go to its own spool file,
loaded by the writer process.
SIGTERM: stop accepting, answer the requests in flight (each durable before its
answer), stop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from multiprocessing.connection import Connection

from certs.sni import SniCertificates
from certs.store import CertStore
from config import Settings
from proxy.domains.proxy_routes import LiveRoutes
from proxy.serve.processes import SHUTDOWN_SECONDS, run_child, stop_event
from proxy.serve.public_app import PublicService
from proxy.serve.tls_listener import TlsListener

log = logging.getLogger("trackway.server")
CERT_RELOAD_SECONDS = 2.0


def worker_main(
    settings: Settings,
    parent_pid: int,
    http: socket.socket,
    https: socket.socket | None,
    status: Connection,
) -> None:
    """`http`, `https`: this worker's listening sockets, bound by the supervisor."""
    run_child(settings, parent_pid, status, lambda ready: _worker(settings, http, https, ready))


async def _worker(
    settings: Settings,
    http: socket.socket,
    https: socket.socket | None,
    ready: Callable[[], None],
) -> None:
    stop = stop_event()
    routes = LiveRoutes(settings)  # our hosts, proxied ones: a change reaches us in seconds
    routes.load()
    # The writer process loads the spool.
    service = PublicService(
        settings,
        loads_spool=False,
        routes=routes.current,
        own_hosts=routes.own_hosts,
        app_links=routes.app_links,
    )
    await service.start()
    watching = asyncio.create_task(routes.watch())
    listeners: list[asyncio.Server | TlsListener] = [await service.listen(http)]
    reloader = None
    if https is not None:
        certificates = SniCertificates(CertStore(settings.data))
        certificates.reload(force=True)
        alpn = settings.acme.challenge == "tls-alpn-01"
        challenges = service.challenges if alpn else None  # the HTTP-01 answers' store
        listeners.append(await service.listen(https, certificates.server_context(), challenges))
        reloader = asyncio.create_task(_reload_certificates(certificates))
    ready()
    await stop.wait()
    watching.cancel()
    if reloader is not None:
        reloader.cancel()
    for listener in listeners:
        listener.close()  # stop accepting; open connections stay for their answers
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
