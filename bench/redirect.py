"""Redirect throughput: trackway (verification + durable recording) against nginx's
static `return 302` and Caddy's `redir`, in one run, with wrk.

    apt-get install wrk nginx-light caddy   # Debian packages
    .venv/bin/python bench/redirect.py [--seconds 10] [--connections 128]

Prints requests/s and p50/p99 latency for each, trackway's p99 at half its own peak,
and last the line `ratio_vs_nginx=<n> ratio_vs_caddy=<n>`.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redirector import Claims, load_keyring, sign

DESTINATION = "https://example.com/landing?utm_source=email&id=42"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    url: str, seconds: float = 30, host: str | None = None, location: str | None = None
) -> None:
    """Until `url` answers with the redirect (to `location`, if given; never following
    it), asked with `host` as its Host if given."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Host": host} if host else {}
    deadline = time.monotonic() + seconds
    while True:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=2)
        try:
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
            if response.status == 302 and location in (None, response.getheader("Location")):
                return
        except OSError:
            pass
        finally:
            conn.close()
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{url} did not answer 302" + (f" to {location}" if location else "")
            )
        time.sleep(0.1)


def parse_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def wrk(
    name: str,
    url: str,
    seconds: int,
    connections: int,
    script: Path | None = None,
    close_connections: bool = False,
    extra: list[str] | None = None,
) -> Result:
    """`close_connections`: a new connection (and TLS handshake) for every request;
    `extra`: more wrk arguments (headers)."""
    args = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"User-Agent: {USER_AGENT}",
    ]
    if script is not None:
        args += ["-s", str(script)]
    if close_connections:
        args += ["-H", "Connection: close"]
    args += extra or []
    out = subprocess.run(
        [*args, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = parse_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = parse_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{name}: {non2xx.group(1)} error responses")
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return Result(name, rps, p50, p99, requests)


def database_lag(database: Path, events: int, seconds: float = 120) -> float:
    """Seconds until `events` clicks are in the database: while clicks keep the CPUs
    busy the loader takes a tenth of one, so it falls behind the spool, and catches up
    after."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
            try:
                (stored,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
            finally:
                conn.close()
            if stored >= events:
                return time.monotonic() - started
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the database did not catch up with {events} events")


@contextmanager
def process(
    args: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def trackway(tmp: Path, workers: int) -> Iterator[str]:
    data = tmp / "trackway-data"
    ring = load_keyring(data, int(time.time()))
    token = sign(
        Claims(DESTINATION, "01JDQ8Z6W3V9R2K4M5N6P7Q8RS", "rcpt-1", 0, 1_700_000_000),
        ring.signing_key,
    )
    port = free_port()
    cli = [
        sys.executable,
        "-m",
        "proxy.cli",
        "serve",
        "--data",
        str(data),
        "--http",
        f"127.0.0.1:{port}",
        "--admin",
        f"127.0.0.1:{free_port()}",
        "--workers",
        str(workers),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    with process(cli, env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}):
        url = f"http://127.0.0.1:{port}/c/{token}"
        wait_for(url)
        yield url


def nginx_conf(prefix: Path, workers: int, server: str) -> Path:
    """An nginx.conf in `prefix` (made) for `workers` processes, serving `server` (its
    http block's server and upstream directives), no access log."""
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"worker_processes {workers};\ndaemon off;\npid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log;\nevents {{ worker_connections 4096; }}\n"
        f"http {{ access_log off; {server} }}\n"
    )
    return conf


@contextmanager
def nginx(tmp: Path, workers: int) -> Iterator[str]:
    port = free_port()
    conf = nginx_conf(
        tmp / "nginx",
        workers,
        f"server {{ listen 127.0.0.1:{port} reuseport;\n"
        f"  location /c/ {{ add_header Cache-Control 'no-store, private'; return 302 {DESTINATION}; }} }}",
    )
    with process(["nginx", "-p", str(conf.parent), "-c", str(conf)]):
        url = f"http://127.0.0.1:{port}/c/token"
        wait_for(url)
        yield url


@contextmanager
def caddy_serving(tmp: Path, workers: int, site: str) -> Iterator[None]:
    """Caddy on `workers` threads (GOMAXPROCS) serving `site`, a Caddyfile site block;
    no admin API, no automatic HTTPS, its state in `tmp`."""
    home = tmp / "caddy"
    home.mkdir()
    caddyfile = home / "Caddyfile"
    caddyfile.write_text("{\n  admin off\n  auto_https off\n}\n" + site)
    env = {
        **os.environ,
        "GOMAXPROCS": str(workers),
        "HOME": str(home),
        "XDG_DATA_HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
    }
    with process(["caddy", "run", "--config", str(caddyfile), "--adapter", "caddyfile"], env=env):
        yield


@contextmanager
def caddy(tmp: Path, workers: int) -> Iterator[str]:
    port = free_port()
    site = f"http://127.0.0.1:{port} {{\n  redir /c/* {DESTINATION} 302\n}}\n"
    with caddy_serving(tmp, workers, site):
        url = f"http://127.0.0.1:{port}/c/token"
        wait_for(url)
        yield url


def at_rate(url: str, target: float, seconds: int, tmp: Path) -> Result:
    """wrk at about `target` requests/s: its `delay()` spaces each connection's requests.
    One short calibration run corrects for the time the requests themselves take."""
    conns = 64
    script = tmp / "delay.lua"
    delay_ms = 1000 * conns / target
    for attempt in range(2):
        script.write_text(f"function delay() return {max(delay_ms, 0.0):.3f} end\n")
        result = wrk("trackway at half peak", url, 3 if attempt == 0 else seconds, conns, script)
        if attempt == 0:  # per connection: 1/rate = delay + service time
            service_ms = 1000 * conns / result.rps - delay_ms
            delay_ms = 1000 * conns / target - service_ms
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per measurement")
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes of each server"
    )
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "caddy"):
        if shutil.which(tool) is None:
            sys.exit(f"bench/redirect.py needs {tool}: apt-get install wrk nginx-light caddy")
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name, server in (("nginx", nginx), ("caddy", caddy), ("trackway", trackway)):
            with server(tmp, args.workers) as url:
                warm = wrk(name, url, 2, args.connections)
                results[name] = wrk(name, url, args.seconds, args.connections)
                if name == "trackway":
                    answered = 1 + warm.requests + results[name].requests  # 1: wait_for
                    lag = database_lag(tmp / "trackway-data" / "trackway.db", answered)
                    results["trackway at half peak"] = at_rate(
                        url, results[name].rps / 2, args.seconds, tmp
                    )
    print(f"{'server':<24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for r in results.values():
        print(f"{r.name:<24}{r.rps:>10.0f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}")
    ours = results["trackway"].rps
    print(f"trackway: every answered click was in the database {lag:.1f} s after the run")
    print(f"workers={args.workers} connections={args.connections} seconds={args.seconds}")
    print(
        f"ratio_vs_nginx={ours / results['nginx'].rps:.3f} ratio_vs_caddy={ours / results['caddy'].rps:.3f}"
    )


if __name__ == "__main__":
    main()
