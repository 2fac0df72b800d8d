"""The shared store failing in the middle of an order (a database connection lost): the
order is a retryable failure of that host (saved, backing off), a certificate the CA
already issued is kept on this server, and a leftover challenge answer is no failure.
The stores are seams of our own (the data folder's, with calls that fail on demand);
the CA is Pebble."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest
from acme import messages

from certs.account import FileAccount
from certs.acme_issuer import AcmeError, AcmeIssuer
from certs.backends import CertBackends
from certs.challenges import ChallengeStore
from certs.lease import SqliteLeases
from certs.manager import CertManager
from certs.store import CertState, CertStore
from config import AcmeSettings, Settings
from proxy.serve.cert_maintenance import maintain_once
from redirector.recording.event_store import StoreUnavailable

HOST = "links.example.com"


class Outage:
    """Which of the shared store's calls fail now (by name)."""

    def __init__(self, *failing: str) -> None:
        self.failing = set(failing)
        self.failed: list[str] = []

    def check(self, call: str) -> None:
        if call in self.failing:
            self.failed.append(call)
            raise StoreUnavailable("PostgreSQL unavailable: connection lost")


class FlakyAccount(FileAccount):
    def __init__(self, data: Path, outage: Outage) -> None:
        super().__init__(data)
        self.outage = outage

    def key_pem(self, make: Any) -> bytes:
        self.outage.check("key_pem")
        return super().key_pem(make)

    def save_registration(self, directory: str, account_json: str) -> None:
        self.outage.check("save_registration")
        super().save_registration(directory, account_json)

    def forget_registration(self, directory: str) -> None:
        self.outage.check("forget_registration")
        super().forget_registration(directory)


class FlakyChallenges(ChallengeStore):
    """The data folder's answers (what the stack's listener serves to Pebble)."""

    def __init__(self, data: Path, outage: Outage) -> None:
        super().__init__(data)
        self.outage = outage

    def publish(self, token: str, key_authorization: str) -> None:
        self.outage.check("publish")
        super().publish(token, key_authorization)

    def withdraw(self, token: str) -> None:
        self.outage.check("withdraw")
        super().withdraw(token)


class FlakyCertificates:
    """A `SharedCertificates` that takes writes unless `put` fails."""

    def __init__(self, outage: Outage) -> None:
        self.outage = outage
        self.rows: dict[str, tuple[bytes | None, bytes | None, CertState]] = {}

    def put_certificate(
        self, host: str, chain_pem: bytes, key_pem: bytes, state: CertState, fence: int | None
    ) -> None:
        self.outage.check("put")
        self.rows[host] = (chain_pem, key_pem, state)

    def put_state(self, state: CertState, fence: int | None) -> None:
        self.outage.check("put")
        chain, key, _ = self.rows.get(state.host, (None, None, state))
        self.rows[state.host] = (chain, key, state)

    def get(self, host: str) -> tuple[bytes | None, bytes | None, CertState] | None:
        self.outage.check("get")
        return self.rows.get(host)


def flaky_manager(settings: Settings, outage: Outage, **seams: Any) -> CertManager:
    data = settings.data
    leases = SqliteLeases(data)
    backends = CertBackends(
        leases,
        FlakyAccount(data, outage),
        FlakyChallenges(data, outage),
        FlakyCertificates(outage),
        closing=leases.close,
    )
    return CertManager(data, settings.acme, backends=backends, **seams)


async def ensure(settings: Settings, outage: Outage, **seams: Any) -> CertState:
    manager = flaky_manager(settings, outage, **seams)
    try:
        return await manager.ensure(HOST)
    finally:
        manager.close()


async def test_an_issued_certificate_is_kept_when_the_store_fails_after_the_order(
    stack_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    stack = await stack_factory()
    await stack.add_host(HOST)
    outage = Outage("withdraw", "put", "get")  # the database gone once the CA validated
    state = await ensure(stack.settings, outage)
    assert "withdraw" in outage.failed
    assert state.last_error is None, state.last_error
    assert state.not_after is not None
    assert state.not_after > time.time()
    assert CertStore(stack.settings.data).has_certificate(HOST)  # kept on this server
    assert CertStore(stack.settings.data).state(HOST) == state
    withdrawn = [r for r in caplog.records if "not withdrawn" in r.getMessage()]
    assert len(withdrawn) == 1  # one line, no traceback
    assert withdrawn[0].levelno == logging.WARNING
    assert withdrawn[0].exc_info is None
    stack.certificates.reload()
    assert (await stack.served_certificate(HOST)).not_valid_after_utc.timestamp() == (
        state.not_after
    )


@pytest.mark.parametrize("call", ["key_pem", "save_registration", "publish"])
async def test_the_store_down_during_an_order_is_a_retryable_failure(
    stack_factory: Any, call: str
) -> None:
    stack = await stack_factory()
    await stack.add_host(HOST)
    now = time.time()
    failed = await ensure(stack.settings, Outage(call), clock=lambda: now)
    assert failed.last_error is not None
    assert "unavailable" in failed.last_error.lower()
    assert (failed.failures, failed.blocked) == (1, False)
    assert failed.next_attempt is not None
    assert failed.next_attempt >= now + 45  # backs off
    assert CertStore(stack.settings.data).state(HOST) == failed  # saved
    assert not CertStore(stack.settings.data).has_certificate(HOST)

    later = failed.next_attempt + 1
    recovered = await ensure(stack.settings, Outage(), clock=lambda: later)  # the store back
    assert recovered.last_error is None, recovered.last_error
    assert recovered.failures == 0
    assert CertStore(stack.settings.data).has_certificate(HOST)


def test_the_store_down_as_a_forgotten_account_is_dropped_is_a_retryable_failure(
    tmp_path: Path,
) -> None:
    outage = Outage("forget_registration")
    issuer = AcmeIssuer(
        AcmeSettings(directory="https://ca.example/dir"), tmp_path, FlakyAccount(tmp_path, outage)
    )

    def forgotten(host: str) -> tuple[bytes, bytes]:  # the CA no longer knows the account
        raise messages.Error.with_code("accountDoesNotExist", detail="scripted")

    issuer._issue = forgotten  # type: ignore[method-assign]
    with pytest.raises(AcmeError, match="unavailable") as raised:
        issuer.issue(HOST)
    assert not raised.value.permanent
    assert outage.failed == ["forget_registration"]


class TwoHosts:
    """The domain service's part that maintenance asks (a seam of our own)."""

    def hosts_to_certify(self) -> list[str]:
        return ["broken.example.com", HOST]

    async def region_hosts_reaching_us(self) -> list[str]:
        return []

    def is_tracking_host(self, host: str) -> bool:
        return False


async def test_a_host_that_fails_unexpectedly_skips_not_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manager = CertManager(tmp_path, AcmeSettings(directory="https://ca.example/dir"))
    ensured: list[str] = []

    async def ensure(host: str, force: bool = False) -> CertState:
        if host == "broken.example.com":
            raise OSError("disk full")
        ensured.append(host)
        return CertState(host)

    manager.ensure = ensure  # type: ignore[method-assign]
    try:
        states = await maintain_once(TwoHosts(), manager)  # type: ignore[arg-type]
    finally:
        manager.close()
    assert ensured == [HOST]
    assert [s.host for s in states] == [HOST]
    (failed,) = [r for r in caplog.records if "broken.example.com" in r.getMessage()]
    assert failed.exc_info is not None  # with its cause
