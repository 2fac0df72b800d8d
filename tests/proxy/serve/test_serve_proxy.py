"""A running `serve` picks up a host's proxy mode from the CLI within seconds, without a
restart, forwards its requests to the upstream, and stops when it is turned off."""

from __future__ import annotations

import http.client
import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.challtestsrv import free_port
from tests.support.server_process import ServerProcess

HOST = "links.example.com"


class Upstream(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []  # (path, Host)
        super().__init__(("127.0.0.1", 0), _Answer)


class _Answer(http.server.BaseHTTPRequestHandler):
    server: Upstream

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Host", "")))
        self.send_response(200)
        self.send_header("Content-Length", "8")
        self.end_headers()
        self.wfile.write(b"upstream")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def cli(data: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", *args, "--data", str(data), "--config", str(config)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def get(port: int, path: str, host: str = HOST) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def until(check: object, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.2)


def test_proxy_mode_from_the_cli_reaches_the_running_server(
    tmp_path: Path, upstream: Upstream
) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text(
        '[regions]\nus = "t.example.net"\n'
        f'[dns]\nnameservers = ["127.0.0.1:{free_port()}"]\ntimeout = 0.5\n'  # nothing answers
        '[checks]\nallowed_networks = ["127.0.0.0/8"]\ntimeout = 2\n'
    )
    data = tmp_path / "data"
    with ServerProcess(data, "--config", str(config), workers=2) as server:
        port = server.ports["public"]
        cli(data, config, "domains", "add", "example.com", HOST)
        # Redirect mode, once the workers know the host: not one of our routes.
        until(lambda: all(get(port, "/landing?a=1")[0] == 404 for _ in range(6)))

        on = cli(data, config, "domains", "proxy", HOST, "--upstream",
                 f"http://127.0.0.1:{upstream.server_address[1]}")  # fmt: skip
        assert "proxy" in on.stdout + on.stderr
        # Within seconds, in every worker (two: six new connections reach both).
        until(lambda: all(get(port, "/landing?a=1") == (200, b"upstream") for _ in range(6)))
        assert upstream.seen[-1] == ("/landing?a=1", HOST)  # the custom host, byte for byte

        cli(data, config, "domains", "proxy", HOST, "--off")
        until(lambda: all(get(port, "/landing?a=1")[0] == 404 for _ in range(6)))
        forwarded = len(upstream.seen)
        for _ in range(6):
            assert get(port, "/landing?a=1")[0] == 404
        assert len(upstream.seen) == forwarded  # nothing forwarded once it is off


def test_a_host_that_is_not_ours_is_misdirected_in_serve(
    tmp_path: Path, upstream: Upstream
) -> None:
    """Our hosts: the settings' and the store's (proxied or not), followed live."""
    config = tmp_path / "trackway.toml"
    config.write_text(
        '[regions]\nus = "t.example.net"\n'
        f'[dns]\nnameservers = ["127.0.0.1:{free_port()}"]\ntimeout = 0.5\n'
        '[checks]\nallowed_networks = ["127.0.0.0/8"]\ntimeout = 2\n'
    )
    data = tmp_path / "data"
    other = f"127.0.0.1:{upstream.server_address[1]}"
    with ServerProcess(data, "--config", str(config), workers=2) as server:
        port = server.ports["public"]
        assert get(port, "/x", host="t.example.net")[0] == 404  # a region host: ours
        assert get(port, "/x", host=other)[0] == 421
        assert get(port, "/c/AQxx", host="elsewhere.example.org")[0] == 421  # forged
        assert get(port, "/healthz", host=other)[0] == 200  # trackway's own paths
        assert get(port, "/x", host=HOST)[0] == 421  # not a tracking host yet
        cli(data, config, "domains", "add", "example.com", HOST)
        until(lambda: all(get(port, "/x")[0] == 404 for _ in range(6)))
    assert upstream.seen == []  # nothing in a request made trackway connect there
