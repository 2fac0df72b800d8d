"""What is tried again, and where: a rejected nonce by the request that carried it, an
account the CA forgot by one new registration. No CA: the requests are scripted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from acme import messages
from josepy.jwa import ES256
from josepy.jwk import JWKEC

from certs.acme_issuer import ACCOUNT_FILE, NONCE_ATTEMPTS, AcmeError, AcmeIssuer, PatientNetwork
from certs.keys import new_private_key
from config import AcmeSettings


class ScriptedNetwork(PatientNetwork):
    """Each request fails with the next error of the script, then succeeds."""

    def __init__(self, errors: list[messages.Error]) -> None:
        super().__init__(JWKEC(key=new_private_key("ecdsa")), alg=ES256)
        self.errors = errors
        self.sent = 0

    def _post_once(self, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent += 1
        if self.errors:
            raise self.errors.pop(0)
        return requests.Response()


def problem(code: str) -> messages.Error:
    return messages.Error.with_code(code, detail="scripted")


def test_a_rejected_nonce_is_retried_by_the_request() -> None:
    net = ScriptedNetwork([problem("badNonce")] * (NONCE_ATTEMPTS - 1))
    net.post("https://ca.example/new-order", messages.NewOrder())
    assert net.sent == NONCE_ATTEMPTS


def test_the_request_gives_up_after_its_attempts() -> None:
    net = ScriptedNetwork([problem("badNonce")] * NONCE_ATTEMPTS)
    with pytest.raises(messages.Error) as raised:
        net.post("https://ca.example/new-order", messages.NewOrder())
    assert raised.value.code == "badNonce"
    assert net.sent == NONCE_ATTEMPTS


def test_other_problems_are_not_retried_by_the_request() -> None:
    net = ScriptedNetwork([problem("malformed")])
    with pytest.raises(messages.Error):
        net.post("https://ca.example/new-order", messages.NewOrder())
    assert net.sent == 1


def scripted_issuer(tmp_path: Path, errors: list[messages.Error]) -> tuple[AcmeIssuer, list[str]]:
    """An issuer whose orders fail with the script's errors, then give a certificate."""
    issuer = AcmeIssuer(AcmeSettings(directory="https://ca.example/dir"), tmp_path)
    orders: list[str] = []

    def order(host: str) -> tuple[bytes, bytes]:
        orders.append(host)
        if errors:
            raise errors.pop(0)
        return b"chain", b"key"

    issuer._issue = order  # type: ignore[method-assign]
    return issuer, orders


def test_a_nonce_rejected_every_time_fails_the_order_once(tmp_path: Path) -> None:
    issuer, orders = scripted_issuer(tmp_path, [problem("badNonce")])
    with pytest.raises(AcmeError, match="badNonce") as raised:
        issuer.issue("links.example.com")
    assert not raised.value.permanent  # the next attempt comes with the usual back-off
    assert orders == ["links.example.com"]  # the order is not started again


def test_a_forgotten_account_is_registered_again_once(tmp_path: Path) -> None:
    account = tmp_path / ACCOUNT_FILE
    account.parent.mkdir(parents=True)
    account.write_text("{}")
    issuer, orders = scripted_issuer(tmp_path, [problem("accountDoesNotExist")])
    assert issuer.issue("links.example.com") == (b"chain", b"key")
    assert not account.exists()
    assert len(orders) == 2

    issuer, orders = scripted_issuer(tmp_path, [problem("accountDoesNotExist")] * 2)
    with pytest.raises(AcmeError, match="accountDoesNotExist"):
        issuer.issue("links.example.com")
    assert len(orders) == 2
