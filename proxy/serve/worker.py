"""A worker process of `serve`: the public listeners (HTTP, and HTTPS with SNI).

Each worker binds the public port with SO_REUSEPORT, so the kernel spreads connections
over the workers; its clicks go to its own spool file, loaded by the writer process.
SIGTERM: stop accepting, answer the requests in flight (each durable before its
answer), stop.
"""

from __future__ import annotations

import asyncio
import logging

from certs.challenges import ChallengeStore
from certs.sni import SniCertificates
from certs.store import CertStore
from config import Settings
from config.settings import parse_host_port
from proxy.serve.processes import SHUTDOWN_SECONDS, run, start_process, stop_event
from proxy.serve.public_app import PublicService
from proxy.serve.tls_listener import PeekingTlsListener

log = logging.getLogger("trackway.server")
CERT_RELOAD_SECONDS = 2.0


def worker_main(settings: Settings, host: str, port: int) -> None:
    start_process(settings)
    run(_worker(settings, host, port))


async def _worker(settings: Settings, host: str, port: int) -> None:
    stop = stop_event()
    service = PublicService(settings, loads_spool=False)  # the writer process loads
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
