"""End to end: `trackway serve --https` turns a verified host https-green by itself."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from redirector import Claims, load_keyring, sign
from tests.support.challtestsrv import ChallTestSrv, free_port
from tests.support.pebble import Pebble
from tests.support.server_process import ServerProcess

US = "t.trackway.example"


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[ChallTestSrv]:
    with ChallTestSrv(tmp_path / "challtestsrv.log") as server:
        yield server


def cli(data: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", *args, "--data", str(data), "--config", str(config)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


def test_serve_gets_and_serves_a_certificate(tmp_path: Path, dns: ChallTestSrv) -> None:
    http_port, https_port = free_port(), free_port()
    with Pebble(tmp_path / "pebble", dns=dns.nameserver, http_port=http_port) as pebble:
        root = tmp_path / "pebble-root.pem"
        root.write_bytes(pebble.root_pem())
        config = tmp_path / "trackway.toml"
        config.write_text(
            f'[regions]\nus = "{US}"\n'
            f'[dns]\nnameservers = ["{dns.nameserver}"]\ntimeout = 1.0\n'
            f'[checks]\nhttp_port = {http_port}\nhttps_port = {https_port}\nca_bundle = "{root}"\n'
            "interval = 1\ntimeout = 3\n"
            f'[acme]\ndirectory = "{pebble.directory}"\nca_bundle = "{pebble.ca_file}"\n'
            'email = "ops@example.com"\ncheck_interval = 1\n'
        )
        data = tmp_path / "data"
        extra = ["--config", str(config), "--https", f"127.0.0.1:{https_port}"]
        server = ServerProcess(data, *extra, workers=1)
        server.args[server.args.index("--http") + 1] = f"127.0.0.1:{http_port}"
        with server:
            added = cli(data, config, "domains", "add", "example.com", "links.example.com")
            assert added.returncode == 0, added.stderr
            token = added.stdout.split('"trackway-verification=', 1)[1].split('"', 1)[0]
            dns.set_txt("_trackway.example.com", f"trackway-verification={token}")
            dns.set_cname("links.example.com", US)

            deadline = time.monotonic() + 90
            while True:
                status = json.loads(
                    cli(data, config, "domains", "status", "links.example.com", "--json").stdout
                )
                if status["https"] == "green":
                    break
                assert time.monotonic() < deadline, status
                time.sleep(0.5)
            assert status["link_base"] == "https://links.example.com"
            assert status["certificate"]["present"] is True

            shown = json.loads(
                cli(data, config, "certs", "show", "links.example.com", "--json").stdout
            )
            assert shown["present"] is True
            listed = cli(data, config, "certs", "list")
            assert "links.example.com: valid until" in listed.stdout

            ring = load_keyring(data, int(time.time()))
            link = sign(
                Claims("https://example.com/sale", "m", "r", 0, 1_700_000_000), ring.signing_key
            )
            context = ssl.create_default_context(cafile=str(root))
            with (
                socket.create_connection(("127.0.0.1", https_port), timeout=10) as raw,
                context.wrap_socket(raw, server_hostname="links.example.com") as tls,
            ):
                tls.sendall(
                    f"GET /c/{link} HTTP/1.1\r\nHost: links.example.com\r\nConnection: close\r\n\r\n".encode()
                )
                answer = b""
                while chunk := tls.recv(65536):
                    answer += chunk
            head = answer.split(b"\r\n\r\n", 1)[0].decode()
            assert head.startswith("HTTP/1.1 302")
            assert "Location: https://example.com/sale" in head

            renewed = cli(data, config, "certs", "renew", "links.example.com")
            assert renewed.returncode == 0, renewed.stdout + renewed.stderr
