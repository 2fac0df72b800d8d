"""The admin page in headless Chromium (Debian's, driven by Playwright) against a real
`trackway serve` with Pebble as its CA and pebble-challtestsrv as its DNS: log in (a
wrong token refused), add a domain, read its records off the page, create them in the
DNS, press Verify and see the lights turn green; save an Apple app-links file and get it
from the public listener; a form without its CSRF token refused; a message's clicks and
opens. A screenshot of each screen goes to the artefacts folder:
`$TRACKWAY_TEST_ARTIFACTS/<test>/` (default `./test-artifacts/<test>/`)."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from proxy.data_folder import ADMIN_TOKEN_FILE
from tests.support.challtestsrv import ChallTestSrv
from tests.support.clicks import BROWSER
from tests.support.serve_stack import US, serve_stack

CHROMIUM = "/usr/bin/chromium"  # Debian's; a browser is never downloaded
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# Clicks right after the send count as human here: the test clicks at once.
CLICK_SETTINGS = "[clicks]\ntoo_fast_seconds = 0\n"
APPLE = {"applinks": {"details": [{"appIDs": ["ABCDE12345.com.example.shop"],
                                   "components": [{"/": "/a/*"}]}]}}  # fmt: skip


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[ChallTestSrv]:
    """A DNS of this test's own: the records it creates stay out of other tests."""
    with ChallTestSrv(tmp_path / "challtestsrv.log") as server:
        yield server


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    root = Path(os.environ.get("TRACKWAY_TEST_ARTIFACTS") or "test-artifacts")
    name: str = request.node.name
    folder = (root / name).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    print(f"screenshots in {folder}")
    return folder


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # new and empty
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 900},
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


def shoot(page: Page, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000


def light(page: Page, check: str) -> str | None:
    """The colour of the first tracking host's light for `check`."""
    return page.get_attribute(f'section.host li[data-check="{check}"]', "data-colour")


def submit(page: Page, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).first.click()


def fetch(
    url: str, data: bytes | None = None, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """Status and body of a request; a redirect is not followed."""
    status, _, body = answer(url, data, method, headers)
    return status, body


def answer(
    url: str, data: bytes | None = None, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Status, Content-Type and body of a request; a redirect is not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kw: object) -> None:
            return None

    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(url, data, headers or {}, method=method)  # noqa: S310
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers["Content-Type"], e.read().decode(errors="replace")


def test_log_in_add_verify_and_see_the_lights_change(
    tmp_path: Path, dns: ChallTestSrv, browser: BrowserContext, artifacts: Path
) -> None:
    with serve_stack(tmp_path, dns, checks=CLICK_SETTINGS) as stack:
        admin = stack.server.admin_url
        token = (stack.data / ADMIN_TOKEN_FILE).read_text().strip()
        page = browser.new_page()

        page.goto(f"{admin}/")
        assert page.url == f"{admin}/ui/login"
        shoot(page, artifacts, "01-login")
        page.fill("input[name=token]", "not-the-token")
        submit(page, "Log in")
        assert "Wrong token: not logged in." in page.inner_text("main")
        assert browser.cookies() == []
        shoot(page, artifacts, "02-wrong-token")

        page.fill("input[name=token]", token)
        submit(page, "Log in")
        assert page.url == f"{admin}/ui/domains"
        (cookie,) = browser.cookies()
        assert cookie["name"] == "trackway_session"
        assert cookie["httpOnly"]
        assert cookie["sameSite"] == "Strict"
        assert page.evaluate("document.cookie") == ""  # no script can read it
        shoot(page, artifacts, "03-domains-empty")

        page.fill("input[name=domain]", "example.com")
        page.fill("input[name=host]", "links.example.com")
        submit(page, "Add")
        assert page.url == f"{admin}/ui/domains/example.com"
        assert "Added example.com" in page.inner_text(".notice")
        assert light(page, "CNAME") == "red"
        assert light(page, "HTTP") == "grey"  # not connected to before ownership is proven
        assert light(page, "HTTPS") == "grey"
        assert "no CNAME record; point links.example.com at t.trackway.example" in page.inner_text(
            'section.host li[data-check="CNAME"]'
        )
        shoot(page, artifacts, "04-added")

        # The records, as an operator copies them off the page.
        txt_name, txt_value = page.inner_text("#txt-name"), page.inner_text("#txt-value")
        cname_name, cname_target = (
            page.inner_text("#cname-name-0"),
            page.inner_text("#cname-target-0"),
        )
        assert (txt_name, cname_name, cname_target) == (
            "_trackway.example.com", "links.example.com", US,
        )  # fmt: skip
        assert txt_value.startswith("trackway-verification=")
        browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=admin)
        page.click('button[data-copy="txt-value"]')
        page.wait_for_function(
            "document.querySelector('button[data-copy=\"txt-value\"]').textContent === 'Copied'"
        )
        assert page.evaluate("navigator.clipboard.readText()") == txt_value
        dns.set_txt(txt_name, txt_value)
        dns.set_cname(cname_name, cname_target)

        submit(page, "Verify")
        assert page.get_attribute("#ownership li", "data-colour") == "green"
        assert light(page, "CNAME") == "green"
        assert light(page, "HTTP") == "green"
        assert light(page, "HTTPS") == "grey"  # no certificate yet: the server orders one
        assert page.inner_text("#link-base") == "http://links.example.com"
        shoot(page, artifacts, "05-verified")

        # The running server orders the certificate from Pebble once CNAME and HTTP are
        # green, and checks the host again: HTTPS turns green, links use https.
        deadline = time.monotonic() + 60
        while light(page, "HTTPS") != "green":
            assert time.monotonic() < deadline, page.inner_text("section.host")
            time.sleep(1)
            page.reload()
        assert page.inner_text("#link-base") == "https://links.example.com"
        certificate = page.inner_text("table.certificate")
        assert re.search(r"Issuer\s+\S", certificate)
        assert re.search(r"Expires\s+20\d\d-", certificate)
        assert re.search(r"Next renewal\s+20\d\d-", certificate)
        shoot(page, artifacts, "06-https-green")

        # App links: an Apple file saved on the page, then served by the public listener
        # (its workers pick the change up within seconds, no restart).
        page.fill("section.host textarea[name=apple]", json.dumps(APPLE, indent=2))
        submit(page, "Save app links")
        assert page.url == f"{admin}/ui/domains/example.com"
        assert "App links of links.example.com saved: Apple set, Android not set" in (
            page.inner_text(".notice")
        )
        served = json.dumps(APPLE, separators=(",", ":"))
        apple_state = page.inner_text('section.host li[data-file="apple"]')
        assert apple_state.endswith(f": set, {len(served)} bytes"), apple_state
        assert page.inner_text('section.host li[data-file="android"]').endswith(": not set")
        assert json.loads(page.input_value("section.host textarea[name=apple]")) == APPLE
        page.locator("section.host").screenshot(path=str(artifacts / "07-app-links.png"))
        assert (artifacts / "07-app-links.png").stat().st_size > 1000
        well_known = f"{stack.server.url}/.well-known/apple-app-site-association"
        deadline = time.monotonic() + 15
        while (got := answer(well_known, headers={"Host": "links.example.com"}))[0] != 200:
            assert time.monotonic() < deadline, got
            time.sleep(0.5)
        status, content_type, body = got
        assert content_type == "application/json"
        assert json.loads(body) == APPLE

        # A state-changing request without the form's CSRF token, with the session.
        session = f"trackway_session={cookie['value']}"
        status, body = fetch(
            f"{admin}/ui/domains/example.com/remove",
            data=b"", method="POST", headers={"Cookie": session},
        )  # fmt: skip
        assert status == 403
        assert "CSRF token is missing or wrong" in body
        assert stack.json("domains", "status", "example.com")["ownership"] == "verified"

        # A message: one human and one bot click on a labelled link, one open.
        body_file = tmp_path / "email.html"
        body_file.write_text(
            '<p><a href="https://shop.example.com/sale" data-link-label="Spring sale">Sale</a>'
            '<a href="https://shop.example.com/help">Help</a></p>'
        )
        sent = stack.cli(
            "rewrite", str(body_file), "--base-url", stack.server.url,
            "--message-id", "spring-2026", "--recipient", "r1", "--open-pixel",
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        links = re.findall(r'(?:href|src)="(http://127[^"]+)"', sent.stdout)
        assert len(links) == 3
        sale, _, pixel = links
        assert fetch(sale, headers={"User-Agent": BROWSER})[0] == 302
        assert fetch(sale, headers={"User-Agent": "curl/8.5.0"})[0] == 302
        assert fetch(pixel, headers={"User-Agent": BROWSER})[0] == 200
        page.goto(f"{admin}/ui/messages")
        shoot(page, artifacts, "08-messages-form")
        page.fill("input[name=message_id]", "spring-2026")
        submit(page, "Show")
        row = page.inner_text('tr[data-link="0"]').split("\t")
        assert row[1:5] == ["Spring sale", "https://shop.example.com/sale", "1", "1"]
        assert row[5] == "crawler_ua: 1"  # the bot's reason: its User-Agent
        assert row[6] == "1"
        assert page.inner_text("#human-opens") == "1"
        assert page.locator("svg.chart rect").count() == 4  # today: clicks and opens bars
        shoot(page, artifacts, "09-message")

        page.goto(f"{admin}/ui/domains")
        shoot(page, artifacts, "10-domains")
        submit(page, "Log out")
        assert page.url == f"{admin}/ui/login"
        page.goto(f"{admin}/ui/domains")
        assert page.url == f"{admin}/ui/login"
