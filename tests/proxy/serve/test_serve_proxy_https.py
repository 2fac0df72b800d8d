"""The whole proxy-mode flow as an operator runs it, with Pebble as the CA: the sending
domain verified, the certificate ordered by the running server, `https` green once a
request through trackway reaches the platform, and a browser's HTTPS request to the
custom host answered by the platform (its own name as SNI, its certificate verified)."""

from __future__ import annotations

import http.client
import http.server
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.support.challtestsrv import ChallTestSrv
from tests.support.serve_stack import serve_stack

HOST = "links.example.com"
PLATFORM = "track.platform.test"  # the test DNS answers 127.0.0.1 for every name


class Platform(http.server.ThreadingHTTPServer):
    """The email platform's tracking host: HTTPS under its own name (a test CA)."""

    def __init__(self, ca: trustme.CA) -> None:
        self.seen: list[tuple[str, str, str, str | None]] = []  # method, path, Host, SNI
        self.sni: list[str | None] = []
        self.through_trackway: list[str] = []  # paths that came forwarded over HTTPS
        super().__init__(("127.0.0.1", 0), _Answer)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(PLATFORM).configure_cert(context)
        context.sni_callback = lambda _sock, name, _ctx: self.sni.append(name)
        self.socket = context.wrap_socket(self.socket, server_side=True)


class _Answer(http.server.BaseHTTPRequestHandler):
    server: Platform
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        sni = self.server.sni[-1] if self.server.sni else None
        self.server.seen.append(("GET", self.path, self.headers.get("Host", ""), sni))
        if self.headers.get("X-Forwarded-Proto") == "https":
            self.server.through_trackway.append(self.path)
        self.send_response(302)
        self.send_header("Location", "https://shop.example.com/landing")
        self.send_header("Set-Cookie", "platform=1; Secure")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[ChallTestSrv]:
    with ChallTestSrv(tmp_path / "challtestsrv.log") as server:
        yield server


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[Platform, Path]]:
    ca = trustme.CA()
    bundle = tmp_path / "platform-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    server = Platform(ca)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, bundle
    server.shutdown()
    server.server_close()


def test_a_proxied_host_gets_https_end_to_end(
    tmp_path: Path, dns: ChallTestSrv, platform: tuple[Platform, Path]
) -> None:
    upstream, bundle = platform
    upstream_url = f"https://{PLATFORM}:{upstream.server_address[1]}"
    with serve_stack(tmp_path, dns, more=f'[proxy]\nca_bundle = "{bundle}"\n') as stack:
        stack.add_verified_host("example.com", HOST)
        on = stack.cli("domains", "proxy", HOST, "--upstream", upstream_url)
        assert on.returncode == 0, on.stdout + on.stderr
        verified = stack.cli("domains", "verify", HOST)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        # The server orders the certificate, serves it, and checks again through itself.
        status = stack.until(lambda doc: doc["https"] == "green", 60, "domains", "status", HOST)
        assert (status["mode"], status["upstream"], status["upstream_check"]) == (
            "proxy", upstream_url, "ok"
        )  # fmt: skip
        assert status["link_base"] == f"https://{HOST}"
        checked = len(upstream.seen)
        assert upstream.through_trackway[-1:] == ["/"]  # the check's request through us

        # A recipient's click on the platform's link, over HTTPS to the custom host
        # (SNI and certificate name: the custom host's, the certificate Pebble's).
        client = ssl.create_default_context(cafile=str(stack.root))
        with (
            socket.create_connection(("127.0.0.1", stack.https_port), timeout=10) as raw,
            client.wrap_socket(raw, server_hostname=HOST) as tls,
        ):
            tls.sendall(
                f"GET /ls/click?upn=abc%20d HTTP/1.1\r\nHost: {HOST}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            answer = http.client.HTTPResponse(tls)
            answer.begin()
            assert answer.status == 302
            assert answer.getheader("Location") == "https://shop.example.com/landing"
            assert answer.getheader("Set-Cookie") == "platform=1; Secure"
        assert upstream.seen[checked:] == [("GET", "/ls/click?upn=abc%20d", HOST, PLATFORM)]
        assert answer.getheader("Proxy-Status") == "trackway; received-status=302"
