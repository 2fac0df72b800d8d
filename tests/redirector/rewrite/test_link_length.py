"""The rewriter never emits a link the click server will not serve (issue 11): a tracked
link longer than `[rewrite] max_link_length` is not emitted, the original stays, and
the report says `too_long`."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from config import RewriteSettings, Settings, SettingsError, load_settings
from redirector import LinkRules, LinkSigner, Rewriter, SendContext, load_keyring
from redirector.clicks.request_head import MAX_HEAD_BYTES, NOT_PLAIN, PlainRequest, parse_plain
from tests.support.clicks import BROWSER, ListenerClient

DEFAULT = RewriteSettings().max_link_length
LARGEST = 8000  # the largest the setting allows
CTX = SendContext("01JDQ8Z6W3V9R2K4M5N6P7Q8RS", "01JDQ8Z6W3V9R2K4M5N6P7Q8RT", 1_700_000_000)
# What a browser sends with a click, about 800 bytes (Chrome 131 on Windows, from webmail).
BROWSER_FIELDS = (
    f"User-Agent: {BROWSER}",
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    "Accept-Encoding: gzip, deflate, br, zstd",
    "Accept-Language: en-GB,en-US;q=0.9,en;q=0.8,de;q=0.7,fr;q=0.6",
    'sec-ch-ua: "Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
    "sec-ch-ua-mobile: ?0",
    'sec-ch-ua-platform: "Windows"',
    "Sec-Fetch-Dest: document",
    "Sec-Fetch-Mode: navigate",
    "Sec-Fetch-Site: cross-site",
    "Sec-Fetch-User: ?1",
    "Upgrade-Insecure-Requests: 1",
    "Referer: https://mail.google.com/",
    "Connection: keep-alive",
)


def rewriter_for(settings: Settings, base_url: str, max_link_length: int) -> Rewriter:
    rewrite = dataclasses.replace(settings.rewrite, max_link_length=max_link_length)
    signer = LinkSigner(load_keyring(settings.data, int(time.time())), base_url)
    return Rewriter(signer, LinkRules.from_settings(rewrite, ()))


STEM = "https://shop.example/landing?ref="
FILL = "0123456789abcdefghijklmnopqrstuvwxyz-_"


def href(size: int) -> str:
    """A destination of `size` characters (at least the stem's)."""
    return (STEM + FILL * (size // len(FILL) + 1))[:size]


def longest(rewriter: Rewriter, limit: int) -> tuple[str, str]:
    """The longest destination whose tracked link is emitted, and that link."""
    low, high = 40, limit  # tracked at `low` (a tracked link is longer than its destination)
    while high - low > 1:
        middle = (low + high) // 2
        if rewriter.rewrite_html(f'<a href="{href(middle)}">', CTX).tracked:
            low = middle
        else:
            high = middle
    (link,) = rewriter.rewrite_html(f'<a href="{href(low)}">', CTX).tracked
    assert link.tracked_url is not None
    return href(low), link.tracked_url


def test_a_link_over_the_limit_stays_as_it_was_with_too_long(
    rewriter: Rewriter, settings: Settings
) -> None:
    url = href(6421)  # the issue's: its tracked link was 8,631 characters, a 400 on click
    body = f'<p><a href="{url}">long</a> <a href="https://a.example/">short</a>'
    result = rewriter.rewrite_html(body, CTX)
    assert [link.reason for link in result.links] == ["too_long", None]
    assert result.links[0].tracked_url is None
    assert result.report()["links"][0]["reason"] == "too_long"
    assert result.body.startswith(f'<p><a href="{url}">long</a> <a href="https://t.example.net/c/')
    text = rewriter.rewrite_text(f"Long: {url}\nShort: https://a.example/\n", CTX)
    assert [link.reason for link in text.links] == ["too_long", None]
    assert text.body.startswith(f"Long: {url}\nShort: https://t.example.net/c/")


@pytest.mark.parametrize("limit", [512, 1000, DEFAULT, LARGEST])
def test_the_limit_is_on_the_whole_tracked_link(settings: Settings, limit: int) -> None:
    rewriter = rewriter_for(settings, "https://links.example.com/t", limit)
    url, tracked = longest(rewriter, limit)
    assert limit - 2 <= len(tracked) <= limit  # base64: a character more is 1 or 2 more
    longer = f'<a href="{url}x">'
    result = rewriter.rewrite_html(longer, CTX)
    assert result.body == longer
    assert [link.reason for link in result.links] == ["too_long"]


def raw_get(path: str, *fields: str) -> bytes:
    return (
        "\r\n".join([f"GET {path} HTTP/1.1", "Host: 127.0.0.1", *fields]) + "\r\n\r\n"
    ).encode()


async def answer(port: int, request: bytes) -> tuple[int, str]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    finally:
        writer.close()
    status, *lines = head.decode("latin-1").split("\r\n")
    location = [line[len("Location: ") :] for line in lines if line.startswith("Location: ")]
    return int(status.split()[1]), "".join(location)


@pytest.mark.parametrize("limit", [DEFAULT, LARGEST])
async def test_the_longest_link_emitted_is_served_on_both_paths(
    public_client: Callable[[Settings], Awaitable[ListenerClient]],
    settings: Settings,
    limit: int,
) -> None:
    client = await public_client(settings)
    port = int(client.base.rsplit(":", 1)[1])
    url, tracked = longest(rewriter_for(settings, client.base, limit), limit)
    path = tracked.removeprefix(client.base)
    plain = raw_get(path, *BROWSER_FIELDS)
    with_query = raw_get(f"{path}?utm_content=x", *BROWSER_FIELDS)  # not plain: aiohttp's
    long_head = raw_get(path, *BROWSER_FIELDS, "Cookie: c=" + "x" * (MAX_HEAD_BYTES // 2))
    if limit == DEFAULT:  # a browser's click on it stays on the fast path
        assert isinstance(parse_plain(plain), PlainRequest)
    assert parse_plain(with_query) is NOT_PLAIN
    assert parse_plain(long_head) is NOT_PLAIN
    for request in (plain, with_query, long_head):
        assert await answer(port, request) == (302, url)
    # and with aiohttp's own client, as a script or a link checker would click
    async with client.get(path, allow_redirects=False) as response:
        assert (response.status, response.headers["Location"]) == (302, url)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "rewrite.max_link_length: from 512 to 8000"),
        ("-1", "rewrite.max_link_length: from 512 to 8000"),
        ("100", "rewrite.max_link_length: from 512 to 8000"),
        ("8191", "rewrite.max_link_length: from 512 to 8000"),
        ("'long'", "rewrite.max_link_length: expected an integer"),
    ],
)
def test_max_link_length_is_checked(tmp_path: Path, value: str, message: str) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text(f"[rewrite]\nmax_link_length = {value}\n")
    with pytest.raises(SettingsError, match=message):
        load_settings(config, {})


def test_max_link_length_from_the_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text("[rewrite]\nmax_link_length = 2048\n")
    assert load_settings(config, {}).rewrite.max_link_length == 2048
    env = {"TRACKWAY_REWRITE_MAX_LINK_LENGTH": "1024"}
    assert load_settings(None, env).rewrite.max_link_length == 1024
    assert load_settings(None, {}).rewrite.max_link_length == DEFAULT == 4096
