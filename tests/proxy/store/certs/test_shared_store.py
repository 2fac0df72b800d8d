"""The certificate state in PostgreSQL: fenced writes, the servers' mirrors, the shared
ACME account and challenge answers (both backends' contract), `store copy`'s step."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import trustme

from certs.account import ACCOUNT_KEY_FILE, FileAccount
from certs.challenges import Challenges, ChallengeStore
from certs.store import CertState, CertStore, LeaseLost
from config import Settings, StoreSettings
from proxy.store.certs import CertMirror, copy_certificates, open_cert_backends
from proxy.store.certs.account import PostgresAccount
from proxy.store.certs.certificates import PostgresCertificates
from proxy.store.certs.challenges import PostgresChallenges
from proxy.store.certs.database import LazyConnection
from proxy.store.certs.leases import PostgresLeases
from redirector.recording.event_store import StoreUnavailable
from tests.support.postgres import lapse_leases

HOST = "links.example.com"
TOKEN = "a" * 43
DIRECTORY = "https://ca.example/dir"
CA = trustme.CA()


def certificate(days: int) -> tuple[bytes, bytes]:
    """(chain, key) of a certificate for HOST that ends in `days` days."""
    now = datetime.datetime.now(datetime.UTC)
    issued = CA.issue_cert(HOST, not_after=now + datetime.timedelta(days=days))
    chain = b"".join(blob.bytes() for blob in issued.cert_chain_pems)
    return chain, issued.private_key_pem.bytes()


@pytest.fixture
def db(postgres_url: str) -> Iterator[LazyConnection]:
    connection = LazyConnection(postgres_url)
    yield connection
    connection.close()


def test_a_write_with_an_older_lease_token_is_refused(db: LazyConnection, tmp_path: Path) -> None:
    stalled, successor = PostgresLeases(db), PostgresLeases(db)
    old = stalled.acquire(HOST, now=100.0, seconds=60)
    lapse_leases(db.url, 100)
    new = successor.acquire(HOST, now=200.0, seconds=60)  # the first one's lease expired
    assert (old, new) == (1, 2)
    shared = PostgresCertificates(db)
    chain, key = certificate(90)
    CertStore(tmp_path / "new", shared).save(HOST, chain, key, CertState(HOST), fence=new)

    late = CertStore(tmp_path / "old", shared)
    stale_chain, stale_key = certificate(80)
    with pytest.raises(LeaseLost):
        late.save(HOST, stale_chain, stale_key, CertState(HOST), fence=old)
    with pytest.raises(LeaseLost):
        late.put_state(CertState(HOST, failures=3), fence=old)
    assert not late.has_certificate(HOST)  # refused here too, not only shared
    (row,) = shared.changes(0)[-1:]
    assert (row.chain_pem, row.key_pem, row.state.failures) == (chain, key, 0)


def test_every_servers_mirror_gets_a_certificate_and_its_state(
    db: LazyConnection, tmp_path: Path
) -> None:
    shared = PostgresCertificates(db)
    one = CertStore(tmp_path / "one", shared)
    two = CertStore(tmp_path / "two")
    mirror = CertMirror(shared, two)
    assert mirror.pull() == []
    chain, key = certificate(90)
    saved = one.save(HOST, chain, key, CertState(HOST), fence=1)
    generation = two.generation()
    assert mirror.pull() == [HOST]
    assert two.certificate(HOST) == (chain, key)
    assert two.state(HOST) == saved
    assert two.generation() != generation  # the workers' SNI reload sees it
    assert os.stat(two.paths(HOST)[1]).st_mode & 0o777 == 0o600  # the key stays private
    renewed = CertState(**{**saved.as_dict(), "renew_at": 123.0})
    one.put_state(renewed, fence=1)  # renewal state travels too
    assert mirror.pull() == [HOST]
    assert two.state(HOST).renew_at == 123.0
    assert mirror.pull() == []  # nothing new: nothing written


def test_a_mirror_keeps_a_later_certificate_and_shares_it(
    db: LazyConnection, tmp_path: Path
) -> None:
    # Saved here while the database was down: the store's is older.
    shared = PostgresCertificates(db)
    older, later = certificate(30), certificate(90)
    CertStore(tmp_path / "other", shared).save(HOST, *older, CertState(HOST), fence=1)
    here = CertStore(tmp_path / "here")
    here.save(HOST, *later, CertState(HOST))
    mirror = CertMirror(shared, here)
    assert mirror.pull() == []
    assert here.certificate(HOST) == later
    assert mirror.push() == 1
    assert mirror.push() == 0  # once
    assert shared.changes(0)[-1].chain_pem == later[0]


def test_a_certificate_saved_while_the_database_is_down_stays_here(tmp_path: Path) -> None:
    down = PostgresCertificates(LazyConnection("postgresql://nobody@127.0.0.1:9/none"))
    store = CertStore(tmp_path, down)
    with pytest.raises(StoreUnavailable):
        down.changes(0)
    state = store.save(HOST, *certificate(90), CertState(HOST), fence=1)
    assert store.has_certificate(HOST)
    assert store.state(HOST) == state


@pytest.fixture(params=["files", "postgresql"])
def challenges(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Challenges]:
    if request.param == "files":
        yield ChallengeStore(tmp_path)
        return
    db = LazyConnection(request.getfixturevalue("postgres_url"))
    yield PostgresChallenges(db)
    db.close()


def test_challenge_answers_until_withdrawn(challenges: Challenges) -> None:
    assert challenges.response(TOKEN) is None
    challenges.publish(TOKEN, f"{TOKEN}.thumbprint")
    assert challenges.response(TOKEN) == f"{TOKEN}.thumbprint"
    assert challenges.response(TOKEN) == f"{TOKEN}.thumbprint"  # asked again: answered again
    assert challenges.response("../../admin-token") is None
    with pytest.raises(ValueError, match="token"):
        challenges.publish("../x", "y")
    challenges.withdraw(TOKEN)
    assert challenges.response(TOKEN) is None

    assert challenges.tls_alpn_certificate(HOST) is None
    challenges.publish_tls_alpn(HOST, b"CERT", b"KEY")
    assert challenges.tls_alpn_certificate(HOST) == (b"CERT", b"KEY")
    challenges.withdraw_tls_alpn(HOST)
    assert challenges.tls_alpn_certificate(HOST) is None


def test_what_one_server_publishes_another_answers(postgres_url: str) -> None:
    ordering, answering = LazyConnection(postgres_url), LazyConnection(postgres_url)
    try:
        PostgresChallenges(ordering).publish(TOKEN, "answer")
        assert PostgresChallenges(answering).response(TOKEN) == "answer"
    finally:
        ordering.close()
        answering.close()


def test_one_account_key_for_the_cluster(db: LazyConnection) -> None:
    one, two = PostgresAccount(db), PostgresAccount(db)
    key = one.key_pem(lambda: b"first")
    assert key == b"first"
    assert two.key_pem(lambda: b"second") == b"first"  # made once, whoever asks first
    assert two.registration(DIRECTORY) is None
    one.save_registration(DIRECTORY, '{"uri": "u"}')
    assert two.registration(DIRECTORY) == '{"uri": "u"}'
    assert two.registration("https://other.example/dir") is None
    two.forget_registration(DIRECTORY)
    assert one.registration(DIRECTORY) is None


def test_store_copy_step_copies_certificates_and_account_once(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = Settings(data=tmp_path / "data")
    chain, key = certificate(90)
    CertStore(settings.data).save(HOST, chain, key, CertState(HOST))
    account = FileAccount(settings.data)
    account.key_pem(lambda: b"the key")
    account.save_registration(DIRECTORY, '{"uri": "u"}')

    counts = copy_certificates(settings, postgres_url)
    assert counts == {"certificates": 1, "account_keys": 1, "registrations": 1}
    assert copy_certificates(settings, postgres_url) == {  # idempotent
        "certificates": 0,
        "account_keys": 0,
        "registrations": 0,
    }
    with psycopg.connect(postgres_url) as conn:
        stored = conn.execute("SELECT host, chain, key FROM certificates").fetchall()
        keys = conn.execute("SELECT key_pem FROM acme_account_key").fetchall()
        registrations = conn.execute("SELECT directory FROM acme_registrations").fetchall()
    assert stored == [(HOST, chain, key)]
    assert keys == [(b"the key",)]
    assert registrations == [(DIRECTORY,)]


def test_copy_makes_no_account_and_leaves_another_accounts_key(
    postgres_url: str, tmp_path: Path
) -> None:
    empty = Settings(data=tmp_path / "empty")
    assert copy_certificates(empty, postgres_url)["account_keys"] == 0
    assert not (empty.data / ACCOUNT_KEY_FILE).exists()
    mine = Settings(data=tmp_path / "mine")
    FileAccount(mine.data).key_pem(lambda: b"mine")
    FileAccount(mine.data).save_registration(DIRECTORY, "{}")
    db = LazyConnection(postgres_url)
    try:
        PostgresAccount(db).key_pem(lambda: b"the cluster's")
    finally:
        db.close()
    assert copy_certificates(mine, postgres_url) == {
        "certificates": 0,
        "account_keys": 0,
        "registrations": 0,  # a registration is its key's: not over another key
    }


def test_the_settings_choose_the_backends(postgres_url: str, tmp_path: Path) -> None:
    files = open_cert_backends(Settings(data=tmp_path))
    shared = open_cert_backends(Settings(data=tmp_path, store=StoreSettings(url=postgres_url)))
    try:
        assert files.certificates is None
        assert isinstance(files.challenges, ChallengeStore)
        assert isinstance(shared.certificates, PostgresCertificates)
        assert isinstance(shared.leases, PostgresLeases)
    finally:
        files.close()
        shared.close()
