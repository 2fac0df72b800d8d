"""End to end: `trackway serve --https` turns a verified host https-green by itself."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from redirector import Claims, load_keyring, sign
from tests.support.challtestsrv import ChallTestSrv
from tests.support.serve_stack import serve_stack


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[ChallTestSrv]:
    with ChallTestSrv(tmp_path / "challtestsrv.log") as server:
        yield server


def test_serve_gets_and_serves_a_certificate(tmp_path: Path, dns: ChallTestSrv) -> None:
    with serve_stack(tmp_path, dns, acme="check_interval = 1\n", checks="interval = 1\n") as stack:
        stack.add_verified_host("example.com", "links.example.com")
        status = stack.until(
            lambda doc: doc["https"] == "green", 90, "domains", "status", "links.example.com"
        )
        assert status["link_base"] == "https://links.example.com"
        assert status["certificate"]["present"] is True
        shown = stack.json("certs", "show", "links.example.com")
        assert shown["present"] is True
        listed = stack.cli("certs", "list")
        assert "links.example.com: valid until" in listed.stdout
        ring = load_keyring(stack.data, int(time.time()))
        link = sign(
            Claims("https://example.com/sale", "m", "r", 0, 1_700_000_000), ring.signing_key
        )
        context = ssl.create_default_context(cafile=str(stack.root))
        with (
            socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw,
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

        renewed = stack.cli("certs", "renew", "links.example.com")
        assert renewed.returncode == 0, renewed.stdout + renewed.stderr
