"""The app-link files served: 200 `application/json`, never redirected, over HTTP and
HTTPS, in redirect and proxy mode (a proxied host's file is trackway's once set, its
upstream never asked; not set, the upstream's). And in a running `serve`: a change by
the CLI is served within seconds without a restart, and an app's JSON resolve of an `/a/`
link is one event with source `app` in the export."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

from config import ProxySettings, Settings
from proxy.domains.store import AppLinks
from proxy.serve.listeners import bind_socket
from proxy.serve.public_app import PublicService
from proxy.upstream import APP_LINK_PATHS, UpstreamRoute
from redirector import Claims, load_keyring, sign
from tests.proxy.serve.test_serve_proxy import Upstream as ThreadedUpstream
from tests.proxy.serve.test_serve_proxy import cli, until
from tests.support.challtestsrv import free_port
from tests.support.server_process import ServerProcess
from tests.support.upstreams import Upstream

OURS = "links.example.com"  # redirect mode
PROXIED = "go.example.com"  # proxy mode
APPLE = '{"applinks":{"details":[{"appIDs":["T.com.example"],"components":[{"/":"/a/*"}]}]}}'
ANDROID = '[{"relation":["delegate_permission/common.handle_all_urls"],"target":{}}]'
Answer = tuple[int, dict[str, str], bytes]
Serve = Callable[..., Awaitable[int]]


async def fetch(
    port: int, path: str, host: str, tls: ssl.SSLContext | None = None, method: str = "GET"
) -> Answer:
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=tls, server_hostname=host if tls else None),
        5,
    )
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    fields = {n.strip().lower(): v.strip() for n, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), fields, body


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = await Upstream().start()
    yield server
    await server.stop()


@pytest.fixture
async def serve(settings: Settings, ca: trustme.CA, upstream: Upstream) -> AsyncIterator[Serve]:
    """`await serve(files, tls=False, redirect_http=False)`: the port of a public listener
    (HTTP, or HTTPS with the test CA's certificate) with OURS in redirect mode, PROXIED
    forwarded to `upstream`, and `files` as the hosts' app links."""
    started: list[tuple[PublicService, Any]] = []

    async def make(
        files: dict[str, AppLinks], tls: bool = False, redirect_http: bool = False
    ) -> int:
        configured = dataclasses.replace(
            settings, proxy=ProxySettings(redirect_http=redirect_http)
        )
        routes = {PROXIED: UpstreamRoute(PROXIED, "http", "127.0.0.1", upstream.port)}
        service = PublicService(
            configured,
            routes=lambda: routes,
            own_hosts=lambda: {OURS},
            app_links=lambda: files,
        )
        await service.start()
        context = None
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert(OURS, PROXIED).configure_cert(context)
        listener = await service.listen(bind_socket("127.0.0.1", 0), context)  # type: ignore[arg-type]
        started.append((service, listener))
        sockets = listener.sockets
        return int(sockets[0].getsockname()[1])

    yield make
    for service, listener in started:
        listener.close()
        await service.close()


def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def assert_served(answer: Answer, text: str) -> None:
    status, fields, body = answer
    assert status == 200
    assert fields["content-type"] == "application/json"
    assert "location" not in fields
    assert body == text.encode()
    json.loads(body)


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
@pytest.mark.parametrize("host", [OURS, PROXIED], ids=["redirect-mode", "proxy-mode"])
async def test_set_files_are_served_by_trackway_over_http_and_https(
    serve: Serve, upstream: Upstream, ca: trustme.CA, tls: bool, host: str
) -> None:
    # redirect_http: a proxied host's plain HTTP is redirected, but never these files.
    port = await serve({host: AppLinks(APPLE, ANDROID)}, tls=tls, redirect_http=True)
    context = client_tls(ca) if tls else None
    apple_paths = [p for p in APP_LINK_PATHS if p.endswith("apple-app-site-association")]
    for path in apple_paths:
        assert_served(await fetch(port, path, host, context), APPLE)
    assert_served(await fetch(port, "/.well-known/assetlinks.json", host, context), ANDROID)
    status, fields, body = await fetch(port, "/apple-app-site-association", host, context, "HEAD")
    assert (status, fields["content-type"], body) == (200, "application/json", b"")
    assert upstream.received == []  # never forwarded


async def test_unset_files_are_404_in_redirect_mode_and_the_platforms_in_proxy_mode(
    serve: Serve, upstream: Upstream
) -> None:
    port = await serve({OURS: AppLinks(APPLE, None), PROXIED: AppLinks(None, ANDROID)})
    status, fields, _ = await fetch(port, "/.well-known/assetlinks.json", OURS)
    assert (status, fields["content-type"]) == (404, "text/html; charset=utf-8")
    assert upstream.received == []
    # PROXIED set only assetlinks.json: its AASA is the platform's to answer.
    status, _, body = await fetch(port, "/.well-known/apple-app-site-association", PROXIED)
    assert (status, body) == (200, b"from the platform")
    assert [r.target for r in upstream.received] == ["/.well-known/apple-app-site-association"]
    assert_served(await fetch(port, "/.well-known/assetlinks.json", PROXIED), ANDROID)
    assert len(upstream.received) == 1
    # Another host's files are not this one's.
    status, _, _ = await fetch(port, "/apple-app-site-association", "t.example.net")
    assert status == 404


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_a_running_serve_picks_up_a_change_and_records_an_apps_resolve(tmp_path: Path) -> None:
    platform = ThreadedUpstream()
    thread = threading.Thread(target=platform.serve_forever, daemon=True)
    thread.start()
    config = tmp_path / "trackway.toml"
    config.write_text(
        '[regions]\nus = "t.example.net"\n'
        f'[dns]\nnameservers = ["127.0.0.1:{free_port()}"]\ntimeout = 0.5\n'  # nothing answers
        '[checks]\nallowed_networks = ["127.0.0.0/8"]\ntimeout = 2\n'
    )
    data = tmp_path / "data"
    try:
        with ServerProcess(data, "--config", str(config), workers=2) as server:
            port = server.ports["public"]
            cli(data, config, "domains", "add", "example.com", OURS)

            def get(path: str, host: str = OURS) -> Answer:
                return asyncio.run(fetch(port, path, host))

            assert get("/.well-known/assetlinks.json")[0] == 404
            done = cli(
                data, config, "domains", "app-links", OURS,
                "--apple", write(tmp_path / "aasa", APPLE),
                "--android", write(tmp_path / "al.json", ANDROID),
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            started = time.monotonic()
            # Within seconds, in every worker (two: six new connections reach both).
            until(lambda: all(get("/.well-known/assetlinks.json")[0] == 200 for _ in range(6)))
            assert time.monotonic() - started < 10
            assert_served(get("/apple-app-site-association"), APPLE)

            # A proxied host: its set file is ours, the rest the platform's.
            cli(data, config, "domains", "add", "example.com", PROXIED)
            cli(data, config, "domains", "proxy", PROXIED, "--upstream",
                f"http://127.0.0.1:{platform.server_address[1]}")  # fmt: skip
            cli(data, config, "domains", "app-links", PROXIED,
                "--android", write(tmp_path / "al.json", ANDROID))  # fmt: skip
            # (The platform answered it until then: 200 too, with its own body.)
            until(lambda: all(get("/.well-known/assetlinks.json", PROXIED)[2] == ANDROID.encode()
                              for _ in range(6)))  # fmt: skip
            before = len(platform.seen)  # forwarded while it was not set yet
            for _ in range(6):
                assert_served(get("/.well-known/assetlinks.json", PROXIED), ANDROID)
            assert get("/apple-app-site-association", PROXIED)[2] == b"upstream"
            assert platform.seen[before:] == [("/apple-app-site-association", PROXIED)]

            cli(data, config, "domains", "app-links", OURS, "--off")
            until(lambda: all(get("/.well-known/assetlinks.json")[0] == 404 for _ in range(6)))

            # An app resolves an /a/ link as JSON: one event, source app, last CSV column.
            ring = load_keyring(data, int(time.time()))
            claims = Claims("https://shop.example.com/p/1", "m-1", "r-1", 0, 1_700_000_000)
            token = sign(claims, ring.signing_key)
            answer = asyncio.run(_resolve(port, token))
            assert answer == (200, {"url": claims.url})

            def exported() -> list[list[str]]:
                done = cli(data, config, "events", "export", "--format", "csv")
                return list(csv.reader(io.StringIO(done.stdout)))

            until(lambda: len(exported()) == 2)
            header, row = exported()
            assert header[-1] == "source"
            assert (row[header.index("url")], row[-1]) == (claims.url, "app")
    finally:
        platform.shutdown()
        platform.server_close()


async def _resolve(port: int, token: str) -> tuple[int, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /a/{token} HTTP/1.1\r\nHost: {OURS}\r\nAccept: application/json\r\n"
        "User-Agent: ShopApp/1.0\r\nConnection: close\r\n\r\n".encode()
    )
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)
