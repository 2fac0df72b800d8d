"""Reverse-proxy throughput: trackway in proxy mode against nginx's `proxy_pass` and
Caddy's `reverse_proxy`, each in front of the same upstream (nginx answering
`return 302`), in one run, with wrk on loopback.

    apt-get install wrk nginx-light caddy   # Debian packages
    .venv/bin/python bench/proxy.py [--seconds 10] [--connections 128]

Each proxy runs `--workers` processes (trackway: `serve --workers`, nginx:
`worker_processes`, Caddy: GOMAXPROCS) and gets the same load (connections, duration,
wrk threads); the upstream runs one nginx worker. trackway serves a real tracking host
switched to proxy mode with `domains proxy`, as an operator would. The proxies are
measured in turns, `--rounds` times each, so that what else the machine does weighs on
each alike. Prints each run's requests/s, the median run's requests/s and p50/p99
latency for each, and last the line `ratio_vs_caddy=<x.xx> ratio_vs_nginx=<x.xx>`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.redirect import (
    Result,
    caddy_serving,
    free_port,
    nginx_conf,
    process,
    wait_for,
    wrk,
)

HOST = "links.example.com"  # the custom tracking host, proxied
LOCATION = "https://platform.example/landing?utm_source=email&id=42"
PATH = "/ls/click?upn=u001.abc"  # a platform's click path


def wait_for_proxy(port: int, seconds: float = 30) -> None:
    """Until a request for HOST through the proxy on `port` gets the upstream's 302."""
    wait_for(f"http://127.0.0.1:{port}{PATH}", seconds, host=HOST, location=LOCATION)


@contextmanager
def upstream(tmp: Path) -> Iterator[int]:
    """The platform: nginx answering every request with a 302."""
    port = free_port()
    conf = nginx_conf(
        tmp / "upstream",
        1,
        f"server {{ listen 127.0.0.1:{port} reuseport; keepalive_requests 1000000;\n"
        f"  location / {{ add_header Cache-Control 'private, max-age=0'; return 302 {LOCATION}; }} }}",
    )
    with process(["nginx", "-p", str(conf.parent), "-c", str(conf)]):
        yield port


@contextmanager
def nginx(tmp: Path, workers: int, upstream_port: int) -> Iterator[int]:
    port = free_port()
    conf = nginx_conf(
        tmp / "nginx",
        workers,
        f"upstream platform {{ server 127.0.0.1:{upstream_port}; keepalive 256; }}\n"
        f"server {{ listen 127.0.0.1:{port} reuseport; location / {{\n"
        "  proxy_pass http://platform; proxy_http_version 1.1;\n"
        "  proxy_set_header Connection ''; proxy_set_header Host $host;\n"
        "  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "  proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Forwarded-Host $host;\n"
        "} }",
    )
    with process(["nginx", "-p", str(conf.parent), "-c", str(conf)]):
        wait_for_proxy(port)
        yield port


@contextmanager
def caddy(tmp: Path, workers: int, upstream_port: int) -> Iterator[int]:
    port = free_port()
    site = f"http://:{port} {{\n  bind 127.0.0.1\n  reverse_proxy 127.0.0.1:{upstream_port}\n}}\n"
    with caddy_serving(tmp, workers, site):
        wait_for_proxy(port)
        yield port


@contextmanager
def trackway(tmp: Path, workers: int, upstream_port: int) -> Iterator[int]:
    """A real `serve`, its tracking host added and switched to proxy mode by the CLI."""
    data = tmp / "trackway-data"
    config = tmp / "trackway.toml"
    config.write_text('[regions]\nus = "t.example.net"\n')
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    common = ["--data", str(data), "--config", str(config)]

    def cli(*args: str) -> None:
        run = [sys.executable, "-m", "proxy.cli", *args, *common]
        subprocess.run(run, env=env, check=True, capture_output=True, timeout=60)

    serve = [sys.executable, "-m", "proxy.cli", "serve", *common, "--http",
             f"127.0.0.1:{port}", "--admin", f"127.0.0.1:{free_port()}",
             "--workers", str(workers)]  # fmt: skip
    with process(serve, env=env):
        cli("domains", "add", "example.com", HOST)
        cli("domains", "proxy", HOST, "--upstream", f"http://127.0.0.1:{upstream_port}")
        wait_for_proxy(port)
        yield port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per measurement")
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2, help="processes of each proxy")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each (median)")
    args = parser.parse_args()
    missing = [tool for tool in ("wrk", "nginx", "caddy") if shutil.which(tool) is None]
    if missing:
        sys.exit(
            f"bench/proxy.py needs {', '.join(missing)}: apt-get install wrk nginx-light caddy"
        )
    rounds: dict[str, list[Result]] = {"nginx": [], "caddy": [], "trackway": []}
    with tempfile.TemporaryDirectory() as tmp_name, ExitStack() as running:
        tmp = Path(tmp_name)
        upstream_port = running.enter_context(upstream(tmp))
        ports = {
            name: running.enter_context(proxy(tmp, args.workers, upstream_port))
            for name, proxy in (("nginx", nginx), ("caddy", caddy), ("trackway", trackway))
        }
        host = ["-H", f"Host: {HOST}"]
        urls = {name: f"http://127.0.0.1:{port}{PATH}" for name, port in ports.items()}
        for name, url in urls.items():
            wrk(name, url, 2, args.connections, extra=host)  # warm up
        # In turns, so that what else the machine does weighs on each alike.
        for _ in range(args.rounds):
            for name, url in urls.items():
                rounds[name].append(wrk(name, url, args.seconds, args.connections, extra=host))
    results = {
        name: sorted(runs, key=lambda r: r.rps)[len(runs) // 2] for name, runs in rounds.items()
    }
    for name, runs in rounds.items():
        print(f"{name}: " + " ".join(f"{r.rps:.0f}" for r in runs) + " req/s")
    print(f"{'proxy':<12}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for r in results.values():
        print(f"{r.name:<12}{r.rps:>10.0f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}")
    print(
        f"workers={args.workers} connections={args.connections} seconds={args.seconds} "
        f"rounds={args.rounds} (median)"
    )
    ours = results["trackway"].rps
    print(
        f"ratio_vs_caddy={ours / results['caddy'].rps:.2f} "
        f"ratio_vs_nginx={ours / results['nginx'].rps:.2f}"
    )


if __name__ == "__main__":
    main()
