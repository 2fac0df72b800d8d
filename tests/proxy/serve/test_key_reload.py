"""Keys rotated while serving are picked up; a key ring file that goes bad meanwhile is
logged once and the ring in use kept, until the file is good again. A check secret
replaced while serving (the database's adopted) is answered with at once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import pytest

from config import Settings
from config.datafolder import write_private_file
from proxy.domains.checks import CHECK_PATH, host_token
from proxy.domains.service import CHECK_SECRET_FILE, check_secret
from proxy.serve import public_app
from redirector import Claims, load_keyring, rotate_key, sign
from tests.redirector.links.test_keystore import MALFORMED
from tests.support.clicks import LONG_AGO, ListenerClient

PublicClient = Callable[[Settings], Awaitable[ListenerClient]]


async def status(client: ListenerClient, token: str) -> int:
    async with client.get(f"/c/{token}", allow_redirects=False) as resp:
        answer: int = resp.status
        return answer


def newest_token(settings: Settings) -> str:
    key = load_keyring(settings.data, int(time.time())).signing_key
    return sign(Claims("https://example.com/", "m", "r", 0, LONG_AGO), key)


async def until_redirected(client: ListenerClient, token: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while await status(client, token) != 302:
        assert time.monotonic() < deadline, "the new key was never picked up"
        await asyncio.sleep(0.02)


def reload_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "trackway.public"
            and r.levelno >= logging.ERROR]  # fmt: skip


@pytest.mark.parametrize("damage", ["non-hex id", "empty secret", "missing"])
async def test_a_bad_key_ring_file_is_logged_once_and_the_ring_kept_until_repaired(
    settings: Settings,
    public_client: PublicClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:
    monkeypatch.setattr(public_app, "KEY_RELOAD_SECONDS", 0.02)
    old = newest_token(settings)
    client = await public_client(settings)
    path = settings.data / "keys.json"
    good = path.read_bytes()

    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(MALFORMED[damage])
    await asyncio.sleep(0.5)  # some 25 reloads' time
    assert await status(client, old) == 302  # the ring in use is kept
    (line,) = reload_errors(caplog)
    assert "key ring not reloaded, keeping the current one" in line
    assert "keys.json" in line
    if damage == "missing":
        assert not path.exists()  # nothing made in its place
    else:
        assert path.read_bytes() == MALFORMED[damage]  # left for the operator to mend

    path.write_bytes(good)
    rotate_key(settings.data, int(time.time()))
    await until_redirected(client, newest_token(settings))
    assert await status(client, old) == 302
    assert len(reload_errors(caplog)) == 1


async def test_a_replaced_check_secret_is_answered_without_a_restart(
    settings: Settings, public_client: PublicClient
) -> None:
    host = "links.example.com"
    old = check_secret(settings.data)
    client = await public_client(settings)

    async def answers(secret: bytes) -> bool:
        token = host_token(secret, host)
        async with client.get(CHECK_PATH + token, headers={"Host": host}) as resp:
            answered: bool = resp.status == 200 and await resp.text() == token
            return answered

    assert await answers(old)
    new = bytes(32)  # as the mirroring task writes the database's
    write_private_file(settings.data / CHECK_SECRET_FILE, new)
    assert await answers(new)
    assert not await answers(old)


async def test_an_unreadable_check_secret_is_said_once_and_the_secret_kept(
    settings: Settings, public_client: PublicClient, caplog: pytest.LogCaptureFixture
) -> None:
    host = "links.example.com"
    secret = check_secret(settings.data)
    client = await public_client(settings)
    path = settings.data / CHECK_SECRET_FILE
    path.unlink()
    path.mkdir()  # unreadable as a file, and not made anew
    token = host_token(secret, host)
    for _ in range(3):
        async with client.get(CHECK_PATH + token, headers={"Host": host}) as resp:
            assert resp.status == 200
    (line,) = reload_errors(caplog)
    assert "check secret not reloaded, keeping the current one" in line
