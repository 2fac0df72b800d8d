"""Order certificates by ACME (RFC 8555) with the `acme` package. Synchronous: callers
run it in a thread pool of its own.

The account key is made once (0600) and the account registered once per directory and
reused. Orders use HTTP-01: the key authorization is published where every worker's
`/.well-known/acme-challenge/{token}` finds it, and withdrawn afterwards.
"""

from __future__ import annotations

import datetime
import logging
import re
import time
from pathlib import Path
from typing import Any

import requests
from acme import challenges, client, crypto_util, errors, messages
from josepy.jwa import ES256
from josepy.jwk import JWK, JWKEC

from certs.account import ACCOUNT_FILE, AccountStore, FileAccount
from certs.challenges import Challenges, ChallengeStore
from certs.keys import from_pem, new_private_key, to_pem
from certs.tls_alpn import TLSALPN01, challenge_certificate
from config import AcmeSettings
from config.errors import Unavailable

__all__ = ["ACCOUNT_FILE", "AcmeError", "AcmeIssuer", "PatientNetwork", "rate_limit_wait"]

log = logging.getLogger("trackway.acme")
ORDER_SECONDS = 120
# Attempts of one request whose nonce the CA rejects. Each costs a round trip (and one
# for a new nonce); at Pebble's test rate of one in two rejected, 20 fail together once
# in a million requests.
NONCE_ATTEMPTS = 20
USER_AGENT = "trackway (acme-python)"
# Problems that another try will not fix: stop ordering for this name.
PERMANENT = {"rejectedIdentifier", "unsupportedIdentifier", "caa", "invalidContact"}


class AcmeError(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        unknown_account: bool = False,
    ) -> None:
        super().__init__(message)
        self.unknown_account = unknown_account
        self.permanent = permanent
        self.retry_after = retry_after


RATE_LIMIT_DEFAULT_SECONDS = 3600.0
_RETRY_AT = re.compile(
    r"retry after (\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z| UTC|[+-]\d\d:?\d\d)?)", re.I
)
_RETRY_IN = re.compile(r"retry[- ]after:?\s*(\d+)\s*(?:s|sec|seconds)?\b", re.I)


def rate_limit_wait(detail: str, now: float) -> float:
    """How long a rateLimited problem asks us to wait. The `acme` package drops the
    response's Retry-After header, so read what the CA says in the detail (Let's Encrypt:
    "retry after 2026-12-01 18:00:00 UTC"); without one, an hour."""
    at = _RETRY_AT.search(detail)
    if at:
        text = at.group(1).replace(" UTC", "+00:00").replace("Z", "+00:00").replace(" ", "T", 1)
        try:
            when = datetime.datetime.fromisoformat(text)
        except ValueError:
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=datetime.UTC)
            return max(60.0, when.timestamp() - now)
    seconds = _RETRY_IN.search(detail)
    if seconds:
        return max(60.0, float(seconds.group(1)))
    return RATE_LIMIT_DEFAULT_SECONDS


class PatientNetwork(client.ClientNetwork):
    """`ClientNetwork` that retries a request whose nonce the CA rejected many times, not
    once: a CA may reject any nonce (RFC 8555 §6.5). Each retry signs the request again
    with a fresh nonce. The only place a rejected nonce is retried: the request, not the
    whole order, is what the CA refused."""

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        for attempt in range(NONCE_ATTEMPTS):
            try:
                response: requests.Response = self._post_once(*args, **kwargs)
                return response
            except messages.Error as error:
                if error.code != "badNonce" or attempt == NONCE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")


class AcmeIssuer:
    def __init__(
        self,
        settings: AcmeSettings,
        data: Path,
        account: AccountStore | None = None,
        challenges: Challenges | None = None,
    ) -> None:
        """`account`, `challenges`: where the account and the challenge answers are
        kept (default: the data folder; a cluster's are shared)."""
        self.settings = settings
        self.data = data
        self.account: AccountStore = account or FileAccount(data)
        self.challenges: Challenges = challenges or ChallengeStore(data)
        self._client: client.ClientV2 | None = None

    def issue(self, host: str) -> tuple[bytes, bytes]:
        """(certificate chain PEM, private key PEM) for `host`, or AcmeError."""
        try:
            return self._issue_once(host)
        except AcmeError as e:
            if not e.unknown_account:
                raise
        # The CA forgot the account (a reset CA, a deactivated account): register a new
        # one rather than fail every order from now on.
        log.warning("the CA no longer knows our account; registering again")
        try:
            self.account.forget_registration(self.settings.directory)
        except Unavailable as e:
            raise AcmeError(f"store unavailable: {e}") from None
        self._client = None
        return self._issue_once(host)

    def _issue_once(self, host: str) -> tuple[bytes, bytes]:
        try:
            return self._issue(host)
        except AcmeError:
            raise
        except Unavailable as e:  # the shared store (account, answers): try again later
            raise AcmeError(f"store unavailable: {e}") from None
        except messages.Error as e:
            if e.code == "rateLimited":
                raise AcmeError(
                    f"rateLimited: {e.detail}",
                    retry_after=rate_limit_wait(e.detail or "", time.time()),
                ) from None
            if e.code == "accountDoesNotExist":
                raise AcmeError(f"accountDoesNotExist: {e.detail}", unknown_account=True) from None
            raise AcmeError(
                f"{e.code or 'error'}: {e.detail or e}", permanent=e.code in PERMANENT
            ) from None
        except errors.ValidationError as e:
            details = "; ".join(
                f"{authz.body.identifier.value}: {ch.error}"
                for authz in e.failed_authzrs
                for ch in authz.body.challenges
                if ch.error is not None
            )
            raise AcmeError(f"validation failed: {details or e}") from None
        except errors.TimeoutError as e:
            raise AcmeError(f"the CA did not finish in time: {e}") from None
        except (errors.Error, requests.RequestException, OSError, ValueError) as e:
            self._client = None  # reconnect (and fetch the directory) next time
            raise AcmeError(f"{type(e).__name__}: {e}") from None

    def _issue(self, host: str) -> tuple[bytes, bytes]:
        acme = self._acme()
        key_pem = to_pem(new_private_key(self.settings.key_type))
        order = acme.new_order(crypto_util.make_csr(key_pem, [host]))
        use_alpn = self.settings.challenge == "tls-alpn-01"
        kind = TLSALPN01 if use_alpn else challenges.HTTP01
        published: list[str] = []
        try:
            for authz in order.authorizations:
                if authz.body.status == messages.STATUS_VALID:
                    continue
                challenge = next(
                    (c for c in authz.body.challenges if isinstance(c.chall, kind)), None
                )
                if challenge is None:
                    raise AcmeError(f"the CA offers no {kind.typ} challenge", permanent=True)
                if use_alpn:
                    key_authorization = challenge.chall.key_authorization(acme.net.key)
                    cert_pem, cert_key = challenge_certificate(
                        host, key_authorization, time.time()
                    )
                    self.challenges.publish_tls_alpn(host, cert_pem, cert_key)
                    response = challenge.chall.response(acme.net.key)
                else:
                    response, validation = challenge.response_and_validation(acme.net.key)
                    self.challenges.publish(challenge.chall.encode("token"), validation)
                published.append(challenge.chall.encode("token"))
                acme.answer_challenge(challenge, response)
            deadline = datetime.datetime.now() + datetime.timedelta(seconds=ORDER_SECONDS)
            order = acme.poll_and_finalize(order, deadline=deadline)
        finally:
            self._withdraw(host, published, use_alpn)
        if not order.fullchain_pem:
            raise AcmeError("the CA returned no certificate")
        return order.fullchain_pem.encode("ascii"), key_pem

    def _withdraw(self, host: str, tokens: list[str], tls_alpn: bool) -> None:
        """Take the answers down. A failure must not cost the order (the CA may have
        issued the certificate already): a leftover answer is harmless, it answers a
        token nobody asks for again."""
        try:
            for token in tokens:
                self.challenges.withdraw(token)
            if tls_alpn:
                self.challenges.withdraw_tls_alpn(host)
        except (Unavailable, OSError) as e:
            log.warning("%s: challenge answers not withdrawn: %s", host, e)

    def _acme(self) -> client.ClientV2:
        if self._client is not None:
            return self._client
        key = JWKEC(key=from_pem(self._account_key_pem()))
        # `verify_ssl` goes to requests' `verify`: True, or a CA bundle path (tests: Pebble).
        verify: bool = self.settings.ca_bundle or True  # type: ignore[assignment]
        net = PatientNetwork(key, alg=ES256, verify_ssl=verify, user_agent=USER_AGENT)
        directory = client.ClientV2.get_directory(self.settings.directory, net)
        acme = client.ClientV2(directory, net=net)
        account = self._load_account()
        if account is None:
            try:
                account = acme.new_account(self._registration(key, directory))
                log.info("registered an ACME account at %s", self.settings.directory)
            except errors.ConflictError as known:
                # The CA knows this key already: another server of the cluster (one
                # account key for all) registered it a moment ago. Use that account.
                found = messages.RegistrationResource(
                    uri=known.location, body=messages.Registration()
                )
                account = acme.query_registration(found)
            self._save_account(account)
        net.account = account
        self._client = acme
        return acme

    def _registration(self, key: JWK, directory: messages.Directory) -> messages.NewRegistration:
        eab = None
        if self.settings.eab_kid:
            eab = messages.ExternalAccountBinding.from_data(
                account_public_key=key.public_key(),
                kid=self.settings.eab_kid,
                hmac_key=self.settings.eab_hmac_key,
                directory=directory,
            )
        return messages.NewRegistration.from_data(
            email=self.settings.email or None,
            terms_of_service_agreed=True,
            external_account_binding=eab,
        )

    def _account_key_pem(self) -> bytes:
        return self.account.key_pem(lambda: to_pem(new_private_key("ecdsa")))

    def _load_account(self) -> messages.RegistrationResource | None:
        doc = self.account.registration(self.settings.directory)
        if doc is None:
            return None
        account: messages.RegistrationResource = messages.RegistrationResource.json_loads(doc)
        return account

    def _save_account(self, account: messages.RegistrationResource) -> None:
        self.account.save_registration(self.settings.directory, account.json_dumps())

    def renewal_window(self, chain_pem: bytes) -> float | None:
        """The start of the CA's ARI renewal window (RFC 9773), when it offers one."""
        try:
            start, _ = self._acme().renewal_time(chain_pem)
        except (errors.Error, messages.Error, requests.RequestException, ValueError, Unavailable):
            return None
        return None if start is None else start.timestamp()
