"""TLS: trackway's HTTPS listener against nginx with the same certificate, in one run.

    apt-get install wrk nginx-light && .venv/bin/pip install -e '.[test]'
    .venv/bin/python bench/tls.py [--seconds 8] [--hosts 10000]

Measures new TLS handshakes per second (wrk with `Connection: close`: one handshake per
request) and keep-alive HTTPS redirects per second, then the same handshake rate and a
worker's memory with `--hosts` certificates loaded. The last line is
`handshake_ratio_vs_nginx=<n> keepalive_ratio_vs_nginx=<n>`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.redirect import DESTINATION, free_port, process, wrk
from redirector import Claims, load_keyring, sign

NAME = "localhost"  # wrk sends the URL's host as SNI (an IP address gets none)


def make_ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate], host: str
) -> tuple[bytes, bytes]:
    import ipaddress

    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(
        serialization.Encoding.PEM
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, key_pem


def put_certificate(data: Path, host: str, chain: bytes, key: bytes) -> None:
    folder = data / "certs" / host
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cert.pem").write_bytes(chain)
    (folder / "key.pem").write_bytes(key)
    (folder / "key.pem").chmod(0o600)


@contextmanager
def trackway_tls(data: Path, workers: int) -> Iterator[tuple[str, int]]:
    ring = load_keyring(data, int(time.time()))
    token = sign(Claims(DESTINATION, "m", "r", 0, 1_700_000_000), ring.signing_key)
    port, https = free_port(), free_port()
    cli = [
        sys.executable, "-m", "proxy.cli", "serve", "--data", str(data),
        "--http", f"127.0.0.1:{port}", "--admin", f"127.0.0.1:{free_port()}",
        "--https", f"127.0.0.1:{https}", "--workers", str(workers),
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    env["TRACKWAY_ACME_ENABLED"] = "false"
    with process(cli, env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}) as proc:
        wait_tls(https)
        yield f"https://{NAME}:{https}/c/{token}", proc.pid


@contextmanager
def nginx_tls(tmp: Path, workers: int, chain: Path, key: Path) -> Iterator[str]:
    port = free_port()
    prefix = tmp / "nginx"
    prefix.mkdir(exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"worker_processes {workers};\ndaemon off;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
        "events { worker_connections 4096; }\n"
        f"http {{ access_log off; server {{ listen 127.0.0.1:{port} ssl reuseport;\n"
        f"  ssl_certificate {chain}; ssl_certificate_key {key};\n"
        "  ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache off; ssl_session_tickets off;\n"
        f"  location /c/ {{ return 302 {DESTINATION}; }} }} }}\n"
    )
    with process(["nginx", "-p", str(prefix), "-c", str(conf)]):
        wait_tls(port)
        yield f"https://{NAME}:{port}/c/token"


def wait_tls(port: int, seconds: float = 30) -> None:
    import socket
    import ssl

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + seconds
    while True:
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=2) as raw,
                context.wrap_socket(raw, server_hostname=NAME),
            ):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def rss_kib(pid: int) -> int:
    """The resident memory of the largest process under `pid` (a worker)."""
    import subprocess

    out = subprocess.run(
        ["ps", "-o", "rss=,pid=", "--ppid", str(pid)], capture_output=True, text=True
    ).stdout
    sizes = [int(line.split()[0]) for line in out.splitlines() if line.strip()]
    return max(sizes, default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--hosts", type=int, default=10_000, help="certificates loaded in the last run"
    )
    args = parser.parse_args()
    close = tempfile.gettempdir()
    with tempfile.TemporaryDirectory(dir=close) as tmp_name:
        tmp = Path(tmp_name)
        ca = make_ca()
        chain, key = issue(ca, NAME)
        (tmp / "chain.pem").write_bytes(chain)
        (tmp / "key.pem").write_bytes(key)
        data = tmp / "trackway-data"
        put_certificate(data, NAME, chain, key)

        results = {}
        conns, secs = args.connections, args.seconds
        with nginx_tls(tmp, args.workers, tmp / "chain.pem", tmp / "key.pem") as url:
            results["nginx handshakes/s"] = wrk(
                "nginx", url, secs, conns, close_connections=True
            ).rps
            results["nginx keep-alive req/s"] = wrk("nginx", url, secs, conns).rps
        with trackway_tls(data, args.workers) as (url, pid):
            results["trackway handshakes/s"] = wrk(
                "trackway", url, secs, conns, close_connections=True
            ).rps
            results["trackway keep-alive req/s"] = wrk("trackway", url, secs, conns).rps
            rss_one = rss_kib(pid)

        started = time.perf_counter()
        for i in range(args.hosts - 1):
            put_certificate(data, f"h{i}.bench.example", *issue(ca, f"h{i}.bench.example"))
        made = time.perf_counter() - started
        with trackway_tls(data, args.workers) as (url, pid):
            results[f"trackway handshakes/s, {args.hosts} hosts"] = wrk(
                "trackway", url, secs, conns, close_connections=True
            ).rps
            rss_many = rss_kib(pid)

    for name, value in results.items():
        print(f"{name:<40}{value:>10.0f}")
    per_host = (rss_many - rss_one) / max(1, args.hosts - 1)
    print(
        f"worker memory: {rss_one / 1024:.1f} MiB with 1 host, {rss_many / 1024:.1f} MiB with {args.hosts} hosts ({per_host:.1f} KiB a host)"
    )
    print(f"made {args.hosts - 1} certificates in {made:.1f} s")
    handshake = results["trackway handshakes/s"] / results["nginx handshakes/s"]
    keepalive = results["trackway keep-alive req/s"] / results["nginx keep-alive req/s"]
    print(f"handshake_ratio_vs_nginx={handshake:.3f} keepalive_ratio_vs_nginx={keepalive:.3f}")


if __name__ == "__main__":
    main()
