"""The public routes through real HTTP on loopback (aiohttp's test server)."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import time
from collections.abc import Awaitable, Callable

import pytest

from config import Settings
from redirector import Claims, LinkSigner, Rewriter, SendContext, load_keyring, sign
from redirector.recording.event_store import DATABASE_FILE, SqliteEventStore
from redirector.recording.spool import Spool
from tests.support.clicks import (
    BROWSER,
    LONG_AGO,
    ListenerClient,
    TokenMaker,
    database_rows,
    stored,
    with_clicks,
)
from tests.support.corpus import corpus_files

Client = ListenerClient
PublicClient = Callable[..., Awaitable[Client]]


@pytest.fixture
async def client(public_client: PublicClient, settings: Settings) -> Client:
    return await public_client(settings)


async def test_click_redirects_to_exactly_the_signed_url(
    client: Client, make_token: TokenMaker, settings: Settings
) -> None:
    url = "https://shop.example.com/p/42?utm_source=email&x=%20y#frag"
    resp = await client.get(
        f"/c/{make_token(url)}", allow_redirects=False, headers={"User-Agent": BROWSER}
    )
    assert resp.status == 302
    assert resp.headers["Location"] == url
    assert resp.headers["Cache-Control"] == "no-store, private"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    # Durable in the spool before the 302 went out; in the database once loaded.
    assert [e.url for e in Spool(settings.data).read_all()] == [url]
    (event,) = await stored(settings)
    assert event["kind"] == "click"
    assert event["url"] == url
    assert (event["message_id"], event["recipient_id"], event["link_index"]) == (
        "msg-1",
        "rcpt-1",
        0,
    )
    assert event["bot"] == 0
    assert event["reasons"] == ""
    assert event["user_agent"] == BROWSER
    assert event["client_ip"] == "127.0.0.1"


async def test_every_link_of_the_rewritten_corpus_redirects(
    client: Client, settings: Settings
) -> None:
    ring = load_keyring(settings.data, int(time.time()))
    base = str(client.make_url("")).rstrip("/")
    rewriter = Rewriter(LinkSigner(ring, base))
    clicked = 0
    for path in corpus_files():
        body = path.read_text("utf-8", "surrogateescape")
        result = rewriter.rewrite_html(body, SendContext(path.name, "r-9", LONG_AGO))
        for link in result.tracked:
            assert link.tracked_url is not None
            resp = await client.get(
                link.tracked_url.removeprefix(base),
                allow_redirects=False,
                headers={"User-Agent": BROWSER},
            )
            assert resp.status == 302
            assert resp.headers["Location"] == link.url
            clicked += 1
    assert clicked > 80
    assert len(await stored(settings)) == clicked


async def test_forged_tokens_give_404_and_record_nothing(
    client: Client, make_token: TokenMaker, settings: Settings
) -> None:
    good = make_token()
    raw = bytearray(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))
    raw[10] ^= 1
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    for path in [
        f"/c/{tampered}",
        f"/c/{good[:-3]}",
        f"/c/{good}x",
        "/c/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/c/%00%ff",
        "/c/" + "A" * 4000,
        "/c/",
        "/nothing/here",
        f"/o/{tampered}",
    ]:
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 404, path
        assert "Location" not in resp.headers
        assert "not valid" in await resp.text()
    oversized = await client.get("/c/" + "A" * 9000, allow_redirects=False)
    assert oversized.status in (400, 404, 414)  # the HTTP parser's limit, still no 5xx
    assert await stored(settings) == []


async def test_an_open_token_never_redirects(client: Client, make_token: TokenMaker) -> None:
    resp = await client.get(f"/c/{make_token(url='')}", allow_redirects=False)
    assert resp.status == 404
    resp = await client.get(f"/c/{make_token(url='javascript:alert(1)')}", allow_redirects=False)
    assert resp.status == 404


async def test_head_is_a_prefetch(
    client: Client, make_token: TokenMaker, settings: Settings
) -> None:
    resp = await client.head(
        f"/c/{make_token()}", allow_redirects=False, headers={"User-Agent": BROWSER}
    )
    assert resp.status == 302
    assert resp.headers["Location"] == "https://example.com/landing?a=1"
    (event,) = await stored(settings)
    assert event["kind"] == "prefetch"
    assert event["bot"] == 1
    assert event["reasons"] == "head"


async def test_open_pixel(client: Client, make_token: TokenMaker, settings: Settings) -> None:
    resp = await client.get(f"/o/{make_token(url='')}", headers={"User-Agent": BROWSER})
    assert resp.status == 200
    body = await resp.read()
    assert len(body) == 43
    assert body.startswith(b"GIF89a")
    assert resp.headers["Content-Type"] == "image/gif"
    assert "no-cache" in resp.headers["Cache-Control"]
    (event,) = await stored(settings)
    assert event["kind"] == "open"


async def test_non_ascii_destination_is_a_valid_header(
    client: Client, make_token: TokenMaker
) -> None:
    token = make_token("https://example.com/caf\u00e9?q=a b")
    resp = await client.get(f"/c/{token}", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "https://example.com/caf%C3%A9?q=a%20b"


@pytest.mark.parametrize(
    ("user_agent", "sent_ago", "reasons"),
    [
        (BROWSER, 3600, ""),
        ("Mozilla/5.0 (compatible; Mimecast URL Protect)", 3600, "scanner_ua"),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", 3600, "crawler_ua"),
        ("", 3600, "crawler_ua"),
        (BROWSER, 2, "too_fast"),
    ],
)
async def test_bot_verdicts(
    client: Client,
    make_token: TokenMaker,
    settings: Settings,
    user_agent: str,
    sent_ago: int,
    reasons: str,
) -> None:
    token = make_token(sent_at=int(time.time()) - sent_ago)
    resp = await client.get(
        f"/c/{token}", allow_redirects=False, headers={"User-Agent": user_agent}
    )
    assert resp.status == 302  # scanners are still redirected
    (event,) = await stored(settings)
    assert event["reasons"] == reasons
    assert event["bot"] == int(bool(reasons))


async def test_burst_marks_the_earlier_clicks_too(
    client: Client, make_token: TokenMaker, settings: Settings
) -> None:
    for index in range(2):
        await client.get(
            f"/c/{make_token(link_index=index)}",
            allow_redirects=False,
            headers={"User-Agent": BROWSER},
        )
    assert [e["bot"] for e in await stored(settings)] == [0, 0]  # two links: a person may do that
    other = make_token(message_id="msg-2", link_index=5)
    await client.get(f"/c/{other}", allow_redirects=False, headers={"User-Agent": BROWSER})
    await client.get(
        f"/c/{make_token(link_index=2)}", allow_redirects=False, headers={"User-Agent": BROWSER}
    )
    events = await stored(settings)
    by_message = {(e["message_id"], e["link_index"]): e for e in events}
    for index in range(3):
        assert by_message[("msg-1", index)]["bot"] == 1
        assert by_message[("msg-1", index)]["reasons"] == "burst"
    assert by_message[("msg-2", 5)]["bot"] == 0


@pytest.mark.parametrize(("mode", "expected"), [("anonymised", "127.0.0.0"), ("none", None)])
async def test_client_ip_setting(
    public_client: PublicClient, settings: Settings, mode: str, expected: str | None
) -> None:
    settings = with_clicks(settings, client_ip=mode)
    client = await public_client(settings)
    ring = load_keyring(settings.data, int(time.time()))
    token = sign(Claims("https://example.com/", "m", "r", 0, LONG_AGO), ring.signing_key)
    await client.get(f"/c/{token}", allow_redirects=False, headers={"User-Agent": BROWSER})
    (event,) = await stored(settings)
    assert event["client_ip"] == expected
    assert event["client_key"]  # bursts are still found


async def test_locked_database_still_redirects_and_the_spool_is_loaded_later(
    client: Client, make_token: TokenMaker, settings: Settings
) -> None:
    await client.get(f"/c/{make_token(recipient_id='before')}", allow_redirects=False)
    await stored(settings)
    blocker = sqlite3.connect(settings.data / DATABASE_FILE, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for i in range(5):
            resp = await client.get(
                f"/c/{make_token(recipient_id=f'locked-{i}')}", allow_redirects=False
            )
            assert resp.status == 302
        spooled = {e.recipient_id for e in Spool(settings.data).read_all()}
        assert {f"locked-{i}" for i in range(5)} <= spooled
        await asyncio.sleep(0.5)  # the loader tries, and the lock refuses it
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert sorted(e["recipient_id"] for e in await stored(settings)) == [
        "before",
        *(f"locked-{i}" for i in range(5)),
    ]


async def test_read_only_database_still_redirects(
    public_client: PublicClient, make_token: TokenMaker, settings: Settings
) -> None:
    settings.data.mkdir(parents=True)
    path = settings.data / DATABASE_FILE
    SqliteEventStore(path).close()
    writable = {"yes": False}

    def store() -> SqliteEventStore:
        return SqliteEventStore(path, read_only=not writable["yes"], busy_timeout_ms=50)

    client = await public_client(settings, store)
    for i in range(3):
        resp = await client.get(f"/c/{make_token(recipient_id=f'ro-{i}')}", allow_redirects=False)
        assert resp.status == 302
    await asyncio.sleep(0.5)  # the loader tries, and the database refuses
    assert database_rows(settings) == []
    assert Spool(settings.data).count() == 3
    writable["yes"] = True
    assert len(await stored(settings)) == 3


async def test_a_valid_token_works_on_any_host(client: Client, make_token: TokenMaker) -> None:
    for host in ("links.example.com", "t.trackway.example", "old-name.example.org"):
        resp = await client.get(
            f"/c/{make_token()}", allow_redirects=False, headers={"Host": host}
        )
        assert resp.status == 302


async def test_other_methods_are_refused(client: Client, make_token: TokenMaker) -> None:
    resp = await client.post(f"/c/{make_token()}", allow_redirects=False)
    assert resp.status == 405
    assert resp.headers["Allow"] == "GET, HEAD"
