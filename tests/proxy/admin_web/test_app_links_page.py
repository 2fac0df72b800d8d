"""The app-links form of a tracking host's panel, through real HTTP on loopback: saved,
shown, removed; a file that is not one refused with the reason the CLI gives; a form
without its CSRF token refused; whatever a stored file holds stays text in the page."""

from __future__ import annotations

import html
import json
import re

from config import Settings
from proxy import app_links
from proxy.domains.service import open_domain_service
from proxy.domains.store import AppLinks
from tests.proxy.admin_web.test_pages import Client, admin, log_in, web_settings

__all__ = ["admin", "web_settings"]  # the fixtures

HOST = "links.example.com"
SAVE = f"/ui/domains/{HOST}/app-links"
APPLE = {"applinks": {"details": [{"appIDs": ["T.com.example"], "components": [{"/": "/a/*"}]}]}}
ANDROID = [{"relation": ["delegate_permission/common.handle_all_urls"], "target": {}}]


def add_host(settings: Settings) -> None:
    with open_domain_service(settings) as service:
        service.add("example.com", HOST, "us")


def stored(settings: Settings) -> AppLinks:
    with open_domain_service(settings) as service:
        return app_links.app_links_of(service.store, HOST).app_links


def textarea(page: str, name: str) -> str:
    """The text a browser shows (and sends back) in the textarea `name`."""
    found = re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None, name
    return html.unescape(found.group(1))


def file_state(page: str, which: str) -> str:
    found = re.search(rf'<li data-file="{which}">.*?\):\s*(.*?)</li>', page, re.S)
    assert found is not None, which
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


async def test_save_show_and_remove(admin: Client, web_settings: Settings) -> None:
    add_host(web_settings)
    csrf = await log_in(admin, web_settings)
    page = await (await admin.get("/ui/domains/example.com")).text()
    assert (file_state(page, "apple"), file_state(page, "android")) == ("not set", "not set")
    assert textarea(page, "apple") == textarea(page, "android") == ""

    resp = await admin.post(
        SAVE, data={"csrf": csrf, "apple": json.dumps(APPLE, indent=4), "android": ""}
    )
    assert resp.status == 200
    assert str(resp.url).endswith("/ui/domains/example.com")
    page = await resp.text()
    assert f"App links of {HOST} saved: Apple set, Android not set" in page
    served = json.dumps(APPLE, separators=(",", ":"))  # compact, as the API stores it
    assert stored(web_settings) == AppLinks(served, None)
    assert file_state(page, "apple") == f"set, {len(served)} bytes"
    assert file_state(page, "android") == "not set"
    assert json.loads(textarea(page, "apple")) == APPLE  # prefilled with what is stored

    # The page's own text sent back unchanged keeps the Apple file; the Android one added.
    resp = await admin.post(
        SAVE,
        data={"csrf": csrf, "apple": textarea(page, "apple"), "android": json.dumps(ANDROID)},
    )
    page = await resp.text()
    assert "saved: Apple set, Android set" in page
    assert stored(web_settings) == AppLinks(served, json.dumps(ANDROID, separators=(",", ":")))
    assert json.loads(textarea(page, "android")) == ANDROID
    with open_domain_service(web_settings) as service:  # what the API answers
        host = app_links.app_links_of(service.store, HOST)
    assert app_links.as_dict(HOST, host.app_links) == {
        "host": HOST, "apple": APPLE, "android": ANDROID
    }  # fmt: skip

    resp = await admin.post(f"{SAVE}/remove", data={"csrf": csrf})
    assert resp.status == 200
    page = await resp.text()
    assert f"App links of {HOST} removed: neither file is served" in page
    assert stored(web_settings) == AppLinks()
    assert (file_state(page, "apple"), file_state(page, "android")) == ("not set", "not set")


async def test_a_bad_document_is_refused_with_its_reason(
    admin: Client, web_settings: Settings
) -> None:
    add_host(web_settings)
    csrf = await log_in(admin, web_settings)
    await admin.post(SAVE, data={"csrf": csrf, "apple": json.dumps(APPLE), "android": ""})
    before = stored(web_settings)
    too_big = json.dumps({"applinks": {"details": []}, "pad": "x" * 140_000})
    refused = [
        ({"apple": "{", "android": ""}, "apple-app-site-association: not valid JSON: Expecting"),
        (
            {"apple": "[]", "android": ""},
            "apple-app-site-association: an apple-app-site-association file is a JSON object",
        ),
        ({"apple": "", "android": "{}"}, "assetlinks.json: an assetlinks.json file is a JSON"),
        ({"apple": "", "android": "[1]"}, "assetlinks.json: statement 1 of assetlinks.json is"),
        ({"apple": "NaN", "android": ""}, "not valid JSON: NaN is not a JSON value"),
        ({"apple": too_big, "android": ""}, "over Apple&#x27;s limit for apple-app-site-assoc"),
        ({"apple": "[" * 100_000, "android": ""}, "apple-app-site-association: nested too deep"),
    ]
    for form, reason in refused:
        resp = await admin.post(SAVE, data={"csrf": csrf, **form})
        page = await resp.text()
        assert resp.status == 400, (form, page)
        assert reason in page, (reason, page)
        assert 'class="error" role="alert"' in page  # as the other forms show theirs
    resp = await admin.post(
        "/ui/domains/nope.example.com/app-links", data={"csrf": csrf, "apple": "{}"}
    )
    assert resp.status == 404
    assert "no tracking host nope.example.com" in await resp.text()
    assert stored(web_settings) == before  # nothing refused was stored


async def test_missing_csrf_is_refused(admin: Client, web_settings: Settings) -> None:
    add_host(web_settings)
    csrf = await log_in(admin, web_settings)
    await admin.post(SAVE, data={"csrf": csrf, "apple": json.dumps(APPLE)})
    before = stored(web_settings)
    assert before.apple is not None
    for path, form in [
        (SAVE, {"apple": "{}", "android": ""}),
        (SAVE, {"csrf": csrf + "x", "apple": "{}"}),
        (f"{SAVE}/remove", {}),
    ]:
        resp = await admin.post(path, data=form)
        assert resp.status == 403, path
        assert "CSRF token is missing or wrong" in await resp.text()
    assert stored(web_settings) == before
    page = await (await admin.get("/ui/domains/example.com")).text()
    forms = re.findall(r'<form method="post" action="/ui/domains/[^"]*/app-links[^"]*".*?</form>',
                       page, re.S)  # fmt: skip
    assert len(forms) == 2  # save and remove
    assert all(f'name="csrf" value="{csrf}"' in form for form in forms)


async def test_a_stored_document_cannot_break_out_of_its_textarea(
    admin: Client, web_settings: Settings
) -> None:
    add_host(web_settings)
    evil = "</textarea><script>alert(1)</script><textarea>"
    apple = {"applinks": {"details": []}, "note": evil, evil: "&amp; \"'"}
    android = [{"relation": [evil], "target": {"namespace": "</li></ul><b>x</b>"}}]
    with open_domain_service(web_settings) as service:  # as the CLI or the API would
        app_links.put_app_links(
            service.store,
            HOST,
            AppLinks(
                app_links.apple_document(apple, "t"), app_links.android_document(android, "t")
            ),
        )
    await log_in(admin, web_settings)
    page = await (await admin.get("/ui/domains/example.com")).text()
    assert page.count("<script") == 1  # the page's own: src="/ui/static/admin.js"
    assert "<script>" not in page
    assert "<b>x" not in page
    assert "&lt;/textarea&gt;&lt;script&gt;" in page
    assert page.count("<textarea") == page.count("</textarea>") == 2
    # The browser shows (and would send back) exactly the stored documents.
    assert json.loads(textarea(page, "apple")) == apple
    assert json.loads(textarea(page, "android")) == android
