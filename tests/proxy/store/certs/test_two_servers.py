"""Two `serve` processes with separate data folders on one PostgreSQL: a certificate
ordered by one, whose validation the CA sends to the OTHER (Pebble's HTTP-01 port, or
TLS-ALPN-01 port, is the other server's), is served by both over TLS within seconds."""

from __future__ import annotations

import signal
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography import x509

from tests.support.challtestsrv import ChallTestSrv, free_port
from tests.support.pebble import Pebble
from tests.support.server_process import ServerProcess

US = "t.trackway.example"
SHARED_WITHIN_SECONDS = 10.0


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[ChallTestSrv]:
    with ChallTestSrv(tmp_path / "challtestsrv.log") as server:
        yield server


def served_certificate(port: int, root: Path) -> x509.Certificate | None:
    """What the HTTPS listener serves for US, trusted by Pebble's root; None if nothing."""
    context = ssl.create_default_context(cafile=str(root))
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=3) as raw,
            context.wrap_socket(raw, server_hostname=US) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
    return None if der is None else x509.load_der_x509_certificate(der)


def output_of(process: ServerProcess) -> str:
    """What the server said, once stopped (for a failure's message)."""
    process.signal_all(signal.SIGKILL)
    assert process.proc is not None
    assert process.proc.stdout is not None
    return "".join(process.output) + process.proc.stdout.read()


def server(tmp: Path, name: str, config: str, url: str, http: int, https: int) -> ServerProcess:
    (tmp / f"{name}.toml").write_text(config)
    extra = ["--config", str(tmp / f"{name}.toml"), "--https", f"127.0.0.1:{https}"]
    process = ServerProcess(tmp / name, *extra, env={"TRACKWAY_STORE_URL": url})
    process.args[process.args.index("--http") + 1] = f"127.0.0.1:{http}"
    return process


@pytest.mark.parametrize("challenge", ["http-01", "tls-alpn-01"])
def test_a_certificate_ordered_by_one_server_is_served_by_both(
    tmp_path: Path, dns: ChallTestSrv, postgres_url: str, challenge: str
) -> None:
    ordering = {"http": free_port(), "https": free_port()}
    answering = {"http": free_port(), "https": free_port()}
    # The CA validates on the answering server's ports only.
    with Pebble(
        tmp_path / "pebble",
        dns=dns.nameserver,
        http_port=answering["http"],
        tls_port=answering["https"],
    ) as pebble:
        root = tmp_path / "pebble-root.pem"
        root.write_bytes(pebble.root_pem())
        common = (
            f'[regions]\nus = "{US}"\n'
            f'[dns]\nnameservers = ["{dns.nameserver}"]\ntimeout = 1.0\n'
            f'[acme]\ndirectory = "{pebble.directory}"\nca_bundle = "{pebble.ca_file}"\n'
            f'email = "ops@example.com"\nchallenge = "{challenge}"\n'
        )
        # A region check that failed on a loaded machine is tried again soon.
        ordering_acme = "check_interval = 2\n"
        # The region host reaches the ordering server (its own check), so it orders; the
        # answering one orders nothing.
        checks = (
            f"[checks]\nhttp_port = {ordering['http']}\nhttps_port = {ordering['https']}\n"
            f'ca_bundle = "{root}"\ntimeout = 3\nallowed_networks = ["127.0.0.0/8"]\n'
        )
        one = server(tmp_path, "one", common + ordering_acme + checks, postgres_url, **ordering)
        two = server(tmp_path, "two", common + "enabled = false\n", postgres_url, **answering)
        with two, one:
            deadline = time.monotonic() + 60
            while (first := served_certificate(ordering["https"], root)) is None:
                assert time.monotonic() < deadline, output_of(one)
                time.sleep(0.2)
            ordered = time.monotonic()
            while (second := served_certificate(answering["https"], root)) is None:
                assert time.monotonic() - ordered < SHARED_WITHIN_SECONDS, output_of(two)
                time.sleep(0.2)
            assert first == second  # the same certificate, from the shared store
            san = first.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            assert san.value.get_values_for_type(x509.DNSName) == [US]
    with psycopg.connect(postgres_url) as conn:
        stored = conn.execute("SELECT host, fence FROM certificates").fetchall()
        left = conn.execute(
            "SELECT (SELECT count(*) FROM acme_challenges), (SELECT count(*) FROM acme_tls_alpn)"
        ).fetchone()
        accounts = conn.execute("SELECT count(*) FROM acme_registrations").fetchone()
    assert stored == [(US, 1)]  # written under the first lease
    assert left == (0, 0)  # withdrawn
    assert accounts == (1,)
    assert not (tmp_path / "one" / "acme").exists()  # account and answers: the store's
