"""The key ring with `[store] url` on a real PostgreSQL: the first server seeds it, a
server with another ring adopts the database's (its own kept aside), rotations and
retirements of one reach the other's keys.json, the database down leaves the mirror;
`copy_keys`; the mirrors (keys.json, domains.db) kept in step by `serve`'s one mirroring
task (its certificates: tests/proxy/store/certs/test_outage.py)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import stat
import threading
import time
from pathlib import Path

import psycopg
import pytest

from config import Settings, StoreSettings
from config.datafolder import file_lock
from config.errors import Conflict
from proxy.domains.store import SendingDomain, SqliteDomainStore
from proxy.store.domains import PostgresDomainStore
from proxy.store.domains.copy import Copied
from proxy.store.keys import copy_keys, current_keyring, retire, rotate
from proxy.store.keys.plan import mirror_plan
from proxy.store.keys.ring import pull_with
from proxy.store.sync import keep_mirrors_in_step, retry_delay
from redirector import KeyRingError, load_keyring, rotate_key
from redirector.links.keyring import SigningKey
from redirector.links.keystore import read_keyring, retire_key, write_keyring
from tests.support.challtestsrv import free_port

NOW = 1_800_000_000


def server(tmp_path: Path, name: str, url: str) -> Settings:
    return Settings(data=tmp_path / name, store=StoreSettings(url=url))


def shared_ids(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM signing_keys ORDER BY created_at")]


def key(n: int, retired: int | None = None) -> SigningKey:
    return SigningKey(f"{n:08x}", bytes([n]) * 32, n, retired)


def test_mirror_plan() -> None:
    one, two = key(1), key(2)
    assert mirror_plan(None, []).seed
    assert mirror_plan([one], []).seed
    assert mirror_plan(None, [one]) == (False, True, False, ())
    assert mirror_plan([one], [one]) == (False, False, False, ())
    assert mirror_plan([one], [one, two]) == (False, True, False, ())  # behind: nothing lost
    assert mirror_plan([one], [key(1, retired=5), two]) == (False, True, False, ())
    assert mirror_plan([one, two], [one]) == (False, True, True, ())  # its own key: kept
    other_secret = SigningKey(one.key_id, bytes(32), 1)
    assert mirror_plan([other_secret], [one]).keep_local
    # Retired here first (alone, or earlier): the database's is retired too.
    assert mirror_plan([key(1, 5), two], [one, two]).retire == (key(1, 5),)
    assert mirror_plan([key(1, 5), two], [key(1, 9), two]).retire == (key(1, 5),)
    assert mirror_plan([key(1, 9), two], [key(1, 5), two]).retire == ()
    assert mirror_plan([one, two], [key(1, 5), two]).retire == ()
    assert mirror_plan([SigningKey(one.key_id, bytes(32), 1, 5)], [one]).retire == ()


def test_retry_delay_grows_to_a_bound() -> None:
    assert [retry_delay(n, 1.0) for n in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert retry_delay(50, 1.0) == 30.0


def test_the_first_server_seeds_the_database_with_its_ring(
    tmp_path: Path, postgres_url: str
) -> None:
    first = server(tmp_path, "one", postgres_url)
    own = rotate_key(first.data, NOW)  # a ring of its own, before the database
    ring = current_keyring(first, NOW)
    assert ring.signing_key == own
    assert shared_ids(postgres_url) == [k.key_id for k in ring.keys]
    fresh = server(tmp_path, "fresh", postgres_url)  # no keys.json: the database's
    assert current_keyring(fresh, NOW).keys == ring.keys
    assert stat.S_IMODE((fresh.data / "keys.json").stat().st_mode) == 0o600


def test_an_empty_database_and_no_ring_make_one(tmp_path: Path, postgres_url: str) -> None:
    ring = current_keyring(server(tmp_path, "one", postgres_url), NOW)
    assert shared_ids(postgres_url) == [ring.signing_key.key_id]


def test_another_ring_is_kept_aside_and_the_database_adopted(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    shared = current_keyring(server(tmp_path, "one", postgres_url), NOW)
    second = server(tmp_path, "two", postgres_url)
    own = load_keyring(second.data, NOW)
    own_file = (second.data / "keys.json").read_bytes()
    assert own.keys != shared.keys
    with caplog.at_level(logging.INFO, "trackway.keys"):
        assert current_keyring(second, NOW).keys == shared.keys
    (kept,) = second.data.glob("keys.json.local-*")
    assert read_keyring(second.data).keys == shared.keys
    assert load_keyring(second.data, NOW).keys == shared.keys
    assert kept.name.startswith("keys.json.local-20")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert kept.read_bytes() == own_file  # nothing lost
    (line,) = [r.getMessage() for r in caplog.records if "adopted" in r.getMessage()]
    assert kept.name in line
    assert own.signing_key.secret.hex() not in caplog.text
    # In step now: nothing more kept aside.
    current_keyring(second, NOW)
    assert len(list(second.data.glob("keys.json.local-*"))) == 1


def test_rotate_and_retire_go_to_the_database_first(tmp_path: Path, postgres_url: str) -> None:
    one, two = server(tmp_path, "one", postgres_url), server(tmp_path, "two", postgres_url)
    first = current_keyring(one, NOW).signing_key
    assert current_keyring(two, NOW).signing_key == first
    new = rotate(two, NOW + 5)
    assert read_keyring(two.data).signing_key == new  # its mirror at once
    assert shared_ids(postgres_url) == [first.key_id, new.key_id]
    assert current_keyring(one, NOW + 6).signing_key == new  # the other, from the database
    retired = retire(one, first.key_id, NOW + 7)
    assert retired.retired_at == NOW + 7
    assert current_keyring(two, NOW + 8).find(first.key_id).retired
    with pytest.raises(KeyRingError, match="only active key"):
        retire(two, new.key_id, NOW + 9)
    with pytest.raises(KeyRingError, match="already retired"):
        retire(two, first.key_id, NOW + 9)
    assert not list(one.data.glob("keys.json.local-*"))  # a mirror behind loses nothing


def test_a_database_down_leaves_the_mirror(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    one = server(tmp_path, "one", postgres_url)
    ring = current_keyring(one, NOW)
    down = server(tmp_path, "one", f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    with caplog.at_level(logging.WARNING, "trackway.keys"):
        assert current_keyring(down, NOW).keys == ring.keys
    assert "PostgreSQL unavailable" in caplog.text
    with pytest.raises(Exception, match="PostgreSQL unavailable"):
        rotate(down, NOW)
    assert read_keyring(one.data).keys == ring.keys


def test_copy_keys_is_idempotent(tmp_path: Path, postgres_url: str) -> None:
    folder = Settings(data=tmp_path / "single")
    assert copy_keys(folder, postgres_url) == {"signing_keys": Copied(0, 0)}
    load_keyring(folder.data, NOW)
    rotate_key(folder.data, NOW)
    assert copy_keys(folder, postgres_url) == {"signing_keys": Copied(2, 2)}
    assert copy_keys(folder, postgres_url) == {"signing_keys": Copied(2, 0)}
    ring = read_keyring(folder.data)
    joined = server(tmp_path, "joined", postgres_url)
    assert current_keyring(joined, NOW).keys == ring.keys


def test_store_copy_carries_a_retirement_forward(tmp_path: Path, postgres_url: str) -> None:
    folder = Settings(data=tmp_path / "single")
    leaked = load_keyring(folder.data, NOW).signing_key
    rotate_key(folder.data, NOW + 1)
    assert copy_keys(folder, postgres_url) == {"signing_keys": Copied(2, 2)}
    retire_key(folder.data, leaked.key_id, NOW + 2)  # a leak, retired in the folder alone
    assert copy_keys(folder, postgres_url) == {"signing_keys": Copied(2, 1)}
    assert copy_keys(folder, postgres_url) == {"signing_keys": Copied(2, 0)}
    joined = server(tmp_path, "joined", postgres_url)
    assert current_keyring(joined, NOW + 3).find(leaked.key_id).retired_at == NOW + 2
    # An older copy of the folder (active) or a later retirement moves it not back.
    older = Settings(data=tmp_path / "older")
    for retired_at in (None, NOW + 9):
        write_keyring(
            older.data, [*read_keyring(folder.data).keys[1:], key_as(leaked, retired_at)]
        )
        assert copy_keys(older, postgres_url) == {"signing_keys": Copied(2, 0)}
        assert current_keyring(joined, NOW + 4).find(leaked.key_id).retired_at == NOW + 2
    assert read_keyring(folder.data).find(leaked.key_id).retired_at == NOW + 2


def test_store_copy_refuses_a_key_id_with_another_secret(
    tmp_path: Path, postgres_url: str
) -> None:
    first = Settings(data=tmp_path / "first")
    held = load_keyring(first.data, NOW).signing_key
    copy_keys(first, postgres_url)
    other = Settings(data=tmp_path / "other")
    impostor = SigningKey(held.key_id, bytes(range(32)), NOW)
    write_keyring(other.data, [impostor, key(7)])
    with pytest.raises(Conflict, match=held.key_id) as refused:
        copy_keys(other, postgres_url)
    message = str(refused.value)
    assert "\n" not in message
    for secret in (held.secret, impostor.secret):
        assert secret.hex() not in message
        assert base64.b64encode(secret).decode() not in message
    assert shared_ids(postgres_url) == [held.key_id]  # the step refused as a whole


def test_a_retirement_made_here_alone_reaches_the_database(
    tmp_path: Path, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    one, two = server(tmp_path, "one", postgres_url), server(tmp_path, "two", postgres_url)
    leaked = current_keyring(one, NOW).signing_key
    rotate(one, NOW + 1)
    retire_key(one.data, leaked.key_id, NOW + 2)  # run once without [store] url
    with caplog.at_level(logging.WARNING, "trackway.keys"):
        assert current_keyring(one, NOW + 3).find(leaked.key_id).retired_at == NOW + 2
    assert leaked.key_id in caplog.text
    assert current_keyring(two, NOW + 4).find(leaked.key_id).retired_at == NOW + 2
    assert not list(one.data.glob("keys.json.local-*"))  # nothing to keep aside


def test_a_retirement_here_that_would_leave_no_signing_key_makes_one(
    tmp_path: Path, postgres_url: str
) -> None:
    one, two = server(tmp_path, "one", postgres_url), server(tmp_path, "two", postgres_url)
    leaked = current_keyring(one, NOW).signing_key
    own = key(7)  # this server's own key, which the database does not take
    write_keyring(one.data, [key_as(leaked, NOW + 2), own])
    ring = current_keyring(one, NOW + 3)
    assert ring.find(leaked.key_id).retired_at == NOW + 2
    assert ring.signing_key not in (leaked, own)  # a new key, made in the database
    assert current_keyring(two, NOW + 4).keys == ring.keys
    assert len(list(one.data.glob("keys.json.local-*"))) == 1


def test_keeping_aside_holds_the_keys_lock_and_never_removes_keys_json(
    tmp_path: Path, postgres_url: str
) -> None:
    current_keyring(server(tmp_path, "one", postgres_url), NOW)
    two = server(tmp_path, "two", postgres_url)
    load_keyring(two.data, NOW)  # a ring of its own: kept aside
    own_file = (two.data / "keys.json").read_bytes()
    done = threading.Event()

    def pull() -> None:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            pull_with(conn, two.data, NOW)
        done.set()

    with file_lock(two.data / ".keys.lock"):  # another writer, in the middle of a write
        puller = threading.Thread(target=pull)
        puller.start()
        assert not done.wait(0.5)  # waits for the lock
        assert (two.data / "keys.json").read_bytes() == own_file  # there, untouched
    puller.join(10)
    assert done.is_set()
    (kept,) = two.data.glob("keys.json.local-*")
    assert kept.read_bytes() == own_file
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def key_as(found: SigningKey, retired_at: int | None) -> SigningKey:
    return SigningKey(found.key_id, found.secret, found.created_at, retired_at)


async def test_serve_keeps_the_mirrors_in_step(tmp_path: Path, postgres_url: str) -> None:
    one, two = server(tmp_path, "one", postgres_url), server(tmp_path, "two", postgres_url)
    first = current_keyring(one, NOW).signing_key
    task = asyncio.create_task(keep_mirrors_in_step(two, poll=0.05))
    try:
        await _until(lambda: read_keyring(two.data).signing_key == first)
        new = await asyncio.to_thread(rotate, one, int(time.time()))
        await _until(lambda: read_keyring(two.data).signing_key == new)
        await asyncio.to_thread(retire, one, first.key_id, int(time.time()))
        await _until(lambda: read_keyring(two.data).find(first.key_id).retired)
        (two.data / "keys.json").unlink()  # a mirror lost: made again
        await _until(lambda: (two.data / "keys.json").exists())
        shared = PostgresDomainStore(postgres_url)
        mirror = SqliteDomainStore(two.data)
        try:
            shared.put_domain(SendingDomain("example.com", "t", True, 1.0))
            await _until(lambda: [d.name for d in mirror.domains()] == ["example.com"])
            shared.remove_domain("example.com")
            await _until(lambda: mirror.domains() == [])
        finally:
            shared.close()
            mirror.close()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _until(done: object, seconds: float = 10) -> None:
    assert callable(done)
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(Exception):
            if done():
                return
        assert time.monotonic() < deadline, "not in step in time"
        await asyncio.sleep(0.05)
