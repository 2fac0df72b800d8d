"""Certificates from Pebble, served by SNI from one listener, renewed, and the faults."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509

from certs.challenges import ChallengeStore
from certs.manager import CertManager
from certs.sni import SniCertificates
from certs.store import CertState, CertStore
from config import AcmeSettings, CheckSettings, DnsSettings, Settings
from proxy.domains.service import DomainService
from proxy.serve.cert_maintenance import maintain_once
from proxy.serve.public_app import PublicService
from proxy.serve.tls_listener import PeekingTlsListener
from redirector import Claims, load_keyring, sign
from tests.support.challtestsrv import ChallTestSrv, free_port
from tests.support.pebble import Pebble

US = "t.trackway.example"
BLOCKED = "blocked.example.com"


@pytest.fixture(scope="module")
def dns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChallTestSrv]:
    with ChallTestSrv(tmp_path_factory.mktemp("dns") / "challtestsrv.log") as server:
        yield server


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
            ),
            acme=AcmeSettings(
                directory=self.pebble.directory,
                ca_bundle=str(self.pebble.ca_file),
                email="ops@example.com",
                challenge="tls-alpn-01" if alpn else "http-01",
            ),
        )
        self.peeking: PeekingTlsListener | None = None
        self.certificates = SniCertificates(CertStore(self.settings.data))
        self.listeners: list[asyncio.Server] = []
        self.public: PublicService | None = None

    async def start(self) -> None:
        self.pebble.start()
        self.root_file.write_bytes(self.pebble.root_pem())
        self.public = PublicService(self.settings)
        await self.public.start()
        self.certificates.reload(force=True)
        if self.alpn:
            self.peeking = PeekingTlsListener(
                self.public.protocol, self.certificates, ChallengeStore(self.settings.data)
            )
            await self.peeking.start("127.0.0.1", self.https_port)
            return
        self.listeners.append(await self.public.listen("127.0.0.1", self.http_port))
        context = self.certificates.server_context()
        self.listeners.append(await self.public.listen("127.0.0.1", self.https_port, context))

    async def stop(self) -> None:
        if self.peeking is not None:
            await self.peeking.close()
        for listener in self.listeners:
            listener.close()
        if self.public is not None:
            await self.public.close()
        self.pebble.stop()

    async def add_host(self, host: str) -> None:
        service = DomainService(self.settings)
        try:
            domain = ".".join(host.split(".")[-2:])
            service.add(domain, host)
            record = service.describe(domain)["txt_record"]
            self.dns.set_txt(record["name"], record["value"])
            self.dns.set_cname(host, US)
            await service.verify(domain)
        finally:
            service.close()

    def status(self, host: str) -> dict[str, Any]:
        service = DomainService(self.settings)
        try:
            return service.describe(host)
        finally:
            service.close()

    async def verify(self, host: str) -> None:
        service = DomainService(self.settings)
        try:
            await service.verify(host)
        finally:
            service.close()

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


async def order(settings: Settings, host: str, **manager: Any) -> CertState:
    """One `CertManager.ensure` with a manager of its own (clock and issuer seams)."""
    certs = CertManager(settings, **manager)
    try:
        return await certs.ensure(host)
    finally:
        certs.close()


@pytest.fixture
async def stack_factory(tmp_path: Path, dns: ChallTestSrv) -> AsyncIterator[Any]:
    stacks: list[Stack] = []

    async def make(**pebble: Any) -> Stack:
        stack = Stack(tmp_path / f"s{len(stacks)}", dns, **pebble)
        stacks.append(stack)
        await stack.start()
        return stack

    yield make
    for stack in stacks:
        await stack.stop()


async def test_verified_host_gets_a_certificate_and_https_clicks_redirect(
    stack_factory: Any,
) -> None:
    stack = await stack_factory()
    await stack.add_host("links.example.com")
    assert stack.status("links.example.com")["https"] == "off"
    manager = CertManager(stack.settings)
    try:
        states = await maintain_once(stack.settings, manager)
    finally:
        manager.close()
    assert [s.host for s in states] == ["links.example.com"]
    assert states[0].last_error is None
    key = stack.settings.data / "certs" / "links.example.com" / "key.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    stack.certificates.reload()
    await stack.verify("links.example.com")
    status = stack.status("links.example.com")
    assert status["https"] == "green", status["reasons"]
    assert status["link_base"] == "https://links.example.com"
    assert status["certificate"]["not_after"] > time.time()
    assert status["certificate"]["renew_at"] < status["certificate"]["not_after"]

    assert await stack.https_click("links.example.com") == (302, "https://example.com/landing")
    async with aiohttp.ClientSession() as session:
        url = f"https://127.0.0.1:{stack.https_port}/c/{stack.token()}"
        with pytest.raises(aiohttp.ClientError):  # an unknown name is refused cleanly
            await session.get(
                url, ssl=stack.client_context(), server_hostname="unknown.example.com"
            )


async def test_two_hosts_two_certificates_one_listener(stack_factory: Any) -> None:
    stack = await stack_factory()
    for host in ("links.example.com", "go.example.org"):
        await stack.add_host(host)
    manager = CertManager(stack.settings)
    try:
        await maintain_once(stack.settings, manager)
    finally:
        manager.close()
    stack.certificates.reload()
    assert stack.certificates.names() == ["go.example.org", "links.example.com"]
    for host in ("links.example.com", "go.example.org"):
        cert = await stack.served_certificate(host)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == [host]


async def test_renewal_is_served_without_a_restart(stack_factory: Any) -> None:
    stack = await stack_factory(validity_seconds=90)
    await stack.add_host("links.example.com")
    manager = CertManager(stack.settings)
    try:
        first = await manager.ensure("links.example.com")
        assert first.renew_at is not None
        assert first.not_after is not None
        assert first.renew_at == pytest.approx(first.not_after - 30, abs=2)  # a third left
        assert (await manager.ensure("links.example.com")).not_after == first.not_after  # not due
        stack.certificates.reload()
        before = await stack.served_certificate("links.example.com")
        second = await order(stack.settings, "links.example.com", clock=lambda: first.renew_at + 1)
        assert second.last_error is None
        assert stack.certificates.reload()
        after = await stack.served_certificate("links.example.com")
        assert after.serial_number != before.serial_number
    finally:
        manager.close()


async def test_rejected_nonces_still_end_in_a_certificate(stack_factory: Any) -> None:
    stack = await stack_factory(nonce_reject=50)
    await stack.add_host("links.example.com")
    state = await order(stack.settings, "links.example.com")
    assert state.last_error is None, state.last_error
    assert CertStore(stack.settings.data).has_certificate("links.example.com")


async def test_ca_down_during_renewal_keeps_the_old_certificate(stack_factory: Any) -> None:
    stack = await stack_factory()
    await stack.add_host("links.example.com")
    first = await order(stack.settings, "links.example.com")
    stack.certificates.reload()
    stack.pebble.stop()
    assert first.renew_at is not None
    due = first.renew_at + 1
    failed = await order(stack.settings, "links.example.com", clock=lambda: due)
    assert failed.last_error is not None
    assert failed.failures == 1
    assert failed.next_attempt is not None
    assert failed.next_attempt >= due + 45  # backs off
    assert failed.not_after == first.not_after  # the valid certificate stays
    assert (
        await stack.served_certificate("links.example.com")
    ).not_valid_after_utc.timestamp() == first.not_after
    assert stack.status("links.example.com")["certificate"]["last_error"] == failed.last_error

    stack.pebble.start()
    recovered = await order(
        stack.settings, "links.example.com", clock=lambda: failed.next_attempt + 1
    )
    assert recovered.last_error is None
    assert recovered.failures == 0
    assert recovered.not_after != first.not_after


async def test_blocklisted_name_gets_a_clear_status_not_a_loop(stack_factory: Any) -> None:
    stack = await stack_factory(blocklist=(BLOCKED,))
    await stack.add_host(BLOCKED)
    manager = CertManager(stack.settings)
    try:
        state = await manager.ensure(BLOCKED)
        assert state.blocked
        assert state.last_error is not None
        assert "rejectedIdentifier" in state.last_error or "blocked" in state.last_error.lower()
        calls: list[str] = []
        original = manager.issuer.issue

        def counting(host: str) -> tuple[bytes, bytes]:
            calls.append(host)
            return original(host)

        manager.issuer.issue = counting  # type: ignore[method-assign]
        later = CertManager(
            stack.settings, issuer=manager.issuer, clock=lambda: time.time() + 86400 * 7
        )
        try:
            assert (await later.ensure(BLOCKED)).blocked
        finally:
            later.close()
        assert calls == []  # no more orders
    finally:
        manager.close()
    assert stack.status(BLOCKED)["certificate"]["blocked"] is True


async def test_a_restart_serves_the_stored_certificate_without_an_order(
    stack_factory: Any,
) -> None:
    stack = await stack_factory()
    await stack.add_host("links.example.com")
    manager = CertManager(stack.settings)
    try:
        await manager.ensure("links.example.com")
    finally:
        manager.close()
    fresh = SniCertificates(CertStore(stack.settings.data))  # what a new process loads
    fresh.reload(force=True)
    assert fresh.names() == ["links.example.com"]
    restarted = CertManager(stack.settings)
    try:
        assert not restarted.needs_order(restarted.store.state("links.example.com"), time.time())
    finally:
        restarted.close()


async def test_rsa_keys_when_asked(stack_factory: Any) -> None:
    import dataclasses

    from cryptography.hazmat.primitives.asymmetric import rsa

    stack = await stack_factory()
    stack.settings = dataclasses.replace(
        stack.settings, acme=dataclasses.replace(stack.settings.acme, key_type="rsa")
    )
    await stack.add_host("links.example.com")
    state = await order(stack.settings, "links.example.com")
    assert state.last_error is None
    stack.certificates.reload()
    cert = await stack.served_certificate("links.example.com")
    assert isinstance(cert.public_key(), rsa.RSAPublicKey)
    assert cert.public_key().key_size == 2048


def test_renewal_rules() -> None:
    from certs.renewal import FIRST_RETRY_SECONDS, MAX_RETRY_SECONDS, is_due, renew_at, retry_delay

    day = 86400.0
    assert renew_at(0, 90 * day) == 60 * day  # a third of the lifetime left
    assert renew_at(0, 90 * day, ari_start=50 * day) == 50 * day
    assert not is_due(0, 90 * day, 59 * day)
    assert is_due(0, 90 * day, 60 * day)
    delays = [retry_delay(n, 0.5) for n in range(1, 20)]
    assert delays[0] == FIRST_RETRY_SECONDS
    assert delays == sorted(delays)
    assert max(delays) == MAX_RETRY_SECONDS
    assert retry_delay(1, 0.0) < retry_delay(1, 0.99)  # jitter spreads retries
    assert retry_delay(1, 0.5, retry_after=3600) == 3600  # the CA's Retry-After wins


def test_rate_limit_waits_for_what_the_ca_says() -> None:
    import datetime

    from certs.acme_issuer import RATE_LIMIT_DEFAULT_SECONDS, rate_limit_wait

    now = 1_799_000_000.0
    then = datetime.datetime(2027, 1, 15, 8, tzinfo=datetime.UTC).timestamp()
    detail = "too many certificates (5) already issued: retry after 2027-01-15 08:00:00 UTC"
    assert rate_limit_wait(detail, now) == pytest.approx(then - now)
    assert rate_limit_wait("slow down; Retry-After: 120", now) == 120
    assert rate_limit_wait("no hint here", now) == RATE_LIMIT_DEFAULT_SECONDS
    assert rate_limit_wait("retry after 2000-01-01T00:00:00Z", now) == 60  # at least a minute


async def test_tls_alpn_01_on_the_https_listener(stack_factory: Any) -> None:
    stack = await stack_factory(alpn=True)
    await stack.add_host("links.example.com")
    state = await order(stack.settings, "links.example.com")
    assert state.last_error is None, state.last_error
    assert not ChallengeStore(stack.settings.data).tls_alpn_paths("links.example.com")  # withdrawn
    stack.certificates.reload()
    cert = await stack.served_certificate("links.example.com")  # through the peeking listener
    assert "Pebble" in cert.issuer.rfc4514_string()
    assert (await stack.https_click("links.example.com"))[0] == 302


async def test_admin_api_certs(stack_factory: Any, aiohttp_client: Any) -> None:
    from proxy.admin.app import build_admin_app
    from proxy.data_folder import admin_token

    stack = await stack_factory()
    await stack.add_host("links.example.com")
    token = admin_token(stack.settings.data)
    client = await aiohttp_client(build_admin_app(stack.settings, token))
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/certs")).status == 401
    listed = await (await client.get("/api/certs", headers=auth)).json()
    assert listed == {"certificates": [{"host": "links.example.com", "present": False}]}
    renewed = await (await client.post("/api/certs/links.example.com/renew", headers=auth)).json()
    assert renewed["present"] is True
    assert renewed["last_error"] is None
    shown = await (await client.get("/api/certs/links.example.com", headers=auth)).json()
    assert shown["not_after"] == renewed["not_after"]
    assert (await client.get("/api/certs/not a host", headers=auth)).status == 400
