"""Certificates from Pebble for verified hosts, served by SNI from one listener, renewed
without a restart; RSA keys and TLS-ALPN-01 when asked."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from certs.challenges import ChallengeStore
from certs.sni import SniCertificates
from certs.store import CertStore
from tests.support.cert_stack import US, manager_for, order


async def test_verified_host_gets_a_certificate_and_https_clicks_redirect(
    stack_factory: Any,
) -> None:
    stack = await stack_factory()
    await stack.add_host("links.example.com")
    assert stack.status("links.example.com")["https"] == "off"
    states = await stack.maintain()
    # The tracking host, and the region's default host (its HTTP reaches us too).
    assert [s.host for s in states] == ["links.example.com", US]
    assert [s.last_error for s in states] == [None, None]
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
    await stack.maintain()
    stack.certificates.reload()
    assert stack.certificates.names() == ["go.example.org", "links.example.com", US]
    for host in ("links.example.com", "go.example.org"):
        cert = await stack.served_certificate(host)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == [host]


async def test_renewal_is_served_without_a_restart(stack_factory: Any) -> None:
    stack = await stack_factory(validity_seconds=90)
    await stack.add_host("links.example.com")
    manager = manager_for(stack.settings)
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


async def test_a_restart_serves_the_stored_certificate_without_an_order(
    stack_factory: Any,
) -> None:
    stack = await stack_factory()
    await stack.add_host("links.example.com")
    manager = manager_for(stack.settings)
    try:
        await manager.ensure("links.example.com")
    finally:
        manager.close()
    fresh = SniCertificates(CertStore(stack.settings.data))  # what a new process loads
    fresh.reload(force=True)
    assert fresh.names() == ["links.example.com"]
    restarted = manager_for(stack.settings)
    try:
        assert not restarted.needs_order(restarted.store.state("links.example.com"), time.time())
    finally:
        restarted.close()


async def test_rsa_keys_when_asked(stack_factory: Any) -> None:
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
