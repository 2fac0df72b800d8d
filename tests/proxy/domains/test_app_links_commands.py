"""`trackway domains app-links`: the files validated (an error names the file and the
reason, exit 1), stored in `domains.db` (an older one gets the columns), shown, removed;
and the admin API's `/api/domains/{host}/app-links`."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from config import Settings
from proxy.admin.app import build_admin_app
from proxy.app_links import put_app_links
from proxy.cli.main import main
from proxy.data_folder import admin_token
from proxy.domains.store import (
    DOMAINS_FILE,
    AppLinks,
    SendingDomain,
    SqliteDomainStore,
    TrackingHost,
)

HOST = "links.example.com"
AASA = {
    "applinks": {
        "details": [{"appIDs": ["ABCDE12345.com.example.shop"], "components": [{"/": "/a/*"}]}]
    }
}
ASSETLINKS = [
    {
        "relation": ["delegate_permission/common.handle_all_urls"],
        "target": {
            "namespace": "android_app",
            "package_name": "com.example.shop",
            "sha256_cert_fingerprints": ["14:6D:E9:83"],
        },
    }
]


def add_host(data: Path, host: str = HOST) -> None:
    store = SqliteDomainStore(data)
    store.put_domain(SendingDomain("example.com", "tok", False, time.time()))
    store.put_host(TrackingHost(host, "example.com", "us", time.time()))
    store.close()


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "data"
    add_host(folder)
    umask = os.umask(0o022)  # `main` sets this process's: put it back after
    yield folder
    os.umask(umask)


def run(data: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["domains", "app-links", *args, "--data", str(data)])
    out, err = capsys.readouterr()
    return status, out, err


def stored(data: Path) -> AppLinks:
    store = SqliteDomainStore(data)
    try:
        host = store.host(HOST)
        assert host is not None
        return host.app_links
    finally:
        store.close()


def test_files_are_stored_shown_and_removed(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apple, android = tmp_path / "aasa", tmp_path / "assetlinks.json"
    apple.write_text(json.dumps(AASA, indent=4))
    android.write_bytes(b"\xef\xbb\xbf" + json.dumps(ASSETLINKS).encode())  # a BOM is fine
    assert run(data, capsys, HOST)[1].count("not set") == 2

    status, out, _ = run(data, capsys, HOST.upper(), "--apple", str(apple))
    assert status == 0
    assert "/.well-known/apple-app-site-association, /apple-app-site-association:" in out
    assert "ABCDE12345.com.example.shop" in out
    assert json.loads(stored(data).apple or "") == AASA
    assert stored(data).android is None

    status, out, _ = run(data, capsys, HOST, "--android", str(android), "--json")
    assert status == 0
    assert json.loads(out) == {"host": HOST, "apple": AASA, "android": ASSETLINKS}  # both kept
    assert run(data, capsys, HOST, "--json")[1] == out

    status, out, _ = run(data, capsys, HOST, "--off", "--json")
    assert (status, json.loads(out)) == (0, {"host": HOST, "apple": None, "android": None})
    assert stored(data) == AppLinks()


@pytest.mark.parametrize(
    ("option", "content", "reason"),
    [
        ("--apple", b'{"applinks": ', "not valid JSON: Expecting value: line 1 column 14"),
        ("--apple", b"[]", "an apple-app-site-association file is a JSON object"),
        ("--apple", b'{"a": NaN}', "not valid JSON: NaN is not a JSON value"),
        ("--apple", b'{"a": "caf\xe9"}', "not UTF-8 text (byte 0xe9 at offset 10)"),
        ("--apple", b"", "not valid JSON"),
        (
            "--apple",
            b'{"pad": "' + b"x" * (128 * 1024) + b'"}',
            "131083 bytes, over Apple's limit for apple-app-site-association: 131072 bytes "
            "(128 KB)",
        ),
        ("--android", b"{}", "an assetlinks.json file is a JSON array of statements"),
        ("--android", b'[{"relation": []}, 7]', "statement 2 of assetlinks.json is a number"),
        ("--android", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),  # not a crash
    ],
)
def test_a_wrong_file_is_refused_naming_it_and_why(
    data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    content: bytes,
    reason: str,
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(AASA if option == "--android" else ASSETLINKS))
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    other = "--apple" if option == "--android" else "--android"
    status, _out, err = run(data, capsys, HOST, other, str(good), option, str(bad))
    assert status == 1
    assert err.startswith(f"trackway: {bad}: ")
    assert reason in err
    assert err.count("\n") == 1
    assert stored(data) == AppLinks()  # nothing stored, not even the good file


def test_unknown_hosts_missing_files_and_off_with_a_file(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(data, capsys, "other.example.com")
    assert status == 1
    assert "no tracking host other.example.com" in err
    missing = tmp_path / "missing.json"
    status, _, err = run(data, capsys, HOST, "--apple", str(missing))
    assert (status, err) == (1, f"trackway: cannot read {missing}: No such file or directory\n")
    apple = tmp_path / "aasa"
    apple.write_text("{}")
    status, _, err = run(data, capsys, HOST, "--off", "--apple", str(apple))
    assert status == 1
    assert "--off removes both files" in err


def test_an_older_domains_db_gets_the_columns(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    conn = sqlite3.connect(data / DOMAINS_FILE)
    conn.execute(
        "CREATE TABLE tracking_hosts (host TEXT PRIMARY KEY, sending_domain TEXT, region TEXT, "
        "created_at FLOAT, checks TEXT, status TEXT, checked_at FLOAT)"
    )
    conn.execute(
        "INSERT INTO tracking_hosts VALUES (?, 'example.com', 'us', 1.0, NULL, NULL, NULL)",
        (HOST,),
    )
    conn.commit()
    conn.close()
    store = SqliteDomainStore(data)
    host = store.host(HOST)
    assert host is not None
    assert host.app_links == AppLinks()
    assert host.mode == "redirect"
    store.close()


Client = TestClient[web.Request, web.Application]


async def test_the_admin_api(data: Path, aiohttp_client: object, tmp_path: Path) -> None:
    settings = Settings(data=data)
    token = admin_token(data)
    client: Client = await aiohttp_client(build_admin_app(settings, token))  # type: ignore[operator]
    auth = {"Authorization": f"Bearer {token}"}
    path = f"/api/domains/{HOST}/app-links"
    empty = {"host": HOST, "apple": None, "android": None}

    resp = await client.get(path, headers=auth)
    assert (resp.status, await resp.json()) == (200, empty)
    resp = await client.put(path, headers=auth, json={"apple": AASA, "android": ASSETLINKS})
    assert (resp.status, await resp.json()) == (
        200, {"host": HOST, "apple": AASA, "android": ASSETLINKS},
    )  # fmt: skip
    assert json.loads(stored(data).android or "") == ASSETLINKS
    resp = await client.put(path, headers=auth, json={"apple": AASA})  # PUT replaces both
    assert (await resp.json())["android"] is None

    for body, reason in [
        ({"apple": [1]}, '"apple": an apple-app-site-association file is a JSON object'),
        ({"android": {}}, '"android": an assetlinks.json file is a JSON array'),
        ({"apple": {}, "ios": {}}, "expected JSON"),
        ([], "expected JSON"),
        ({"apple": {"pad": "x" * (128 * 1024)}}, "over Apple's limit"),
    ]:
        resp = await client.put(path, headers=auth, json=body)
        assert resp.status == 400
        assert reason in (await resp.json())["error"]
    resp = await client.put(path, headers=auth, data=b'{"apple": {"a": NaN}}')
    assert resp.status == 400
    assert json.loads(stored(data).apple or "") == AASA  # the refused ones changed nothing

    resp = await client.delete(path, headers=auth)
    assert (resp.status, await resp.json()) == (200, empty)
    assert stored(data) == AppLinks()
    resp = await client.get("/api/domains/nope.example.com/app-links", headers=auth)
    assert resp.status == 404
    assert (await client.get(path)).status == 401


def test_a_check_that_read_the_host_before_a_change_does_not_undo_it(data: Path) -> None:
    store = SqliteDomainStore(data)
    try:
        before = store.host(HOST)  # as the periodic checks read it, then wait on the network
        assert before is not None
        put_app_links(store, HOST, AppLinks('{"applinks":{}}', None))
        store.record_host_check(dataclasses.replace(before, checked_at=5.0))  # the results
        after = store.host(HOST)
        assert after is not None
        assert (after.checked_at, after.app_links) == (5.0, AppLinks('{"applinks":{}}', None))
    finally:
        store.close()
