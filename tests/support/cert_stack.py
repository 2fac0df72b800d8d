"""A stack for certificates on loopback: Pebble as the CA, pebble-challtestsrv as DNS,
our public listener on the HTTP port and an HTTPS listener serving by SNI."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509

from certs.challenges import ChallengeStore
from certs.manager import CertManager
from certs.sni import SniCertificates
from certs.store import CertState, CertStore
from config import AcmeSettings, CheckSettings, DnsSettings, Settings
from proxy.domains.service import open_domain_service
from proxy.serve.cert_maintenance import maintain_once
from proxy.serve.listeners import bind_socket
from proxy.serve.public_app import PublicService
from proxy.serve.tls_listener import TlsListener
from redirector import Claims, load_keyring, sign
from tests.support.challtestsrv import ChallTestSrv, free_port
from tests.support.pebble import Pebble

US = "t.trackway.example"


class Stack:
    def __init__(self, tmp: Path, dns: ChallTestSrv, alpn: bool = False, **pebble: Any) -> None:
        self.dns = dns
        self.alpn = alpn  # TLS-ALPN-01 on the HTTPS listener, and no HTTP listener at all
        self.http_port, self.https_port = free_port(), free_port()
        if alpn:
            pebble["tls_port"] = self.https_port
        self.pebble = Pebble(
            tmp / "pebble", dns=dns.nameserver, http_port=self.http_port, **pebble
        )
        self.root_file = tmp / "pebble-root.pem"
        self.settings = Settings(
            data=tmp / "data",
            regions={"us": US},
            dns=DnsSettings(nameservers=(dns.nameserver,), timeout=1.0),
            checks=CheckSettings(
                http_port=self.http_port,
                https_port=self.https_port,
                ca_bundle=str(self.root_file),
                timeout=3,
                allowed_networks=("127.0.0.0/8",),  # the stack is on loopback
            ),
            acme=AcmeSettings(
                directory=self.pebble.directory,
                ca_bundle=str(self.pebble.ca_file),
                email="ops@example.com",
                challenge="tls-alpn-01" if alpn else "http-01",
            ),
        )
        self.certificates = SniCertificates(CertStore(self.settings.data))
        self.listeners: list[asyncio.Server | TlsListener] = []
        self.public: PublicService | None = None

    async def start(self) -> None:
        self.pebble.start()
        self.root_file.write_bytes(self.pebble.root_pem())
        self.public = PublicService(self.settings)
        await self.public.start()
        self.certificates.reload(force=True)
        context = self.certificates.server_context()
        if self.alpn:
            challenges = ChallengeStore(self.settings.data)
            https = bind_socket("127.0.0.1", self.https_port)
            self.listeners.append(await self.public.listen(https, context, challenges))
            return
        self.listeners.append(await self.public.listen(bind_socket("127.0.0.1", self.http_port)))
        self.listeners.append(
            await self.public.listen(bind_socket("127.0.0.1", self.https_port), context)
        )

    async def stop(self) -> None:
        for listener in self.listeners:
            listener.close()
        if self.public is not None:
            await self.public.close()
        self.pebble.stop()

    async def add_host(self, host: str) -> None:
        with open_domain_service(self.settings) as service:
            domain = ".".join(host.split(".")[-2:])
            service.add(domain, host)
            record = service.describe(domain).as_dict()["txt_record"]
            self.dns.set_txt(record["name"], record["value"])
            self.dns.set_cname(host, US)
            await service.verify(domain)

    def status(self, host: str) -> dict[str, Any]:
        """The host's status as JSON."""
        with open_domain_service(self.settings) as service:
            return service.describe(host).as_dict()

    async def verify(self, host: str) -> None:
        with open_domain_service(self.settings) as service:
            await service.verify(host)

    async def maintain(self) -> list[CertState]:
        """One round of certificate maintenance, as `serve` runs it."""
        manager = manager_for(self.settings)
        try:
            with open_domain_service(self.settings) as service:
                return await maintain_once(service, manager)
        finally:
            manager.close()

    def token(self, url: str = "https://example.com/landing") -> str:
        ring = load_keyring(self.settings.data, int(time.time()))
        return sign(Claims(url, "m-1", "r-1", 0, 1_700_000_000), ring.signing_key)

    async def https_click(self, host: str) -> tuple[int, str | None]:
        """Status and Location of a tracked link clicked over HTTPS with SNI `host`."""
        url = f"https://127.0.0.1:{self.https_port}/c/{self.token()}"
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                url, ssl=self.client_context(), server_hostname=host, allow_redirects=False
            ) as resp,
        ):
            return resp.status, resp.headers.get("Location")

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.root_file))

    async def served_certificate(self, host: str) -> x509.Certificate:
        context = self.client_context()
        _, writer = await asyncio.open_connection(
            "127.0.0.1", self.https_port, ssl=context, server_hostname=host
        )
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
        return x509.load_der_x509_certificate(der)


def manager_for(settings: Settings, **seams: Any) -> CertManager:
    """A manager of the settings' data folder and CA (`issuer`, `clock`, `jitter`: seams)."""
    return CertManager(settings.data, settings.acme, **seams)


async def order(settings: Settings, host: str, **manager: Any) -> CertState:
    """One `CertManager.ensure` with a manager of its own (clock and issuer seams)."""
    certs = manager_for(settings, **manager)
    try:
        return await certs.ensure(host)
    finally:
        certs.close()
