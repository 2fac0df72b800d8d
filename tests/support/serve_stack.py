"""`trackway serve` with Pebble as its CA and pebble-challtestsrv as its DNS, and the
CLI beside it, as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.challtestsrv import ChallTestSrv, free_port
from tests.support.pebble import Pebble
from tests.support.server_process import ServerProcess

US = "t.trackway.example"


@dataclass
class ServeStack:
    data: Path
    config: Path
    root: Path  # Pebble's root: what clients trust for its certificates
    http_port: int
    https_port: int
    dns: ChallTestSrv
    server: ServerProcess

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
        return subprocess.run(
            [sys.executable, "-m", "proxy.cli", *args, "--data", str(self.data),
             "--config", str(self.config)],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip

    def add_verified_host(self, domain: str, host: str) -> None:
        """`domains add`, then the DNS records it asks for."""
        added = self.cli("domains", "add", domain, host)
        assert added.returncode == 0, added.stderr
        token = added.stdout.split('"trackway-verification=', 1)[1].split('"', 1)[0]
        self.dns.set_txt(f"_trackway.{domain}", f"trackway-verification={token}")
        self.dns.set_cname(host, US)

    def json(self, *args: str) -> Any:
        done = self.cli(*args, "--json")
        assert done.returncode in (0, 1), done.stderr
        return json.loads(done.stdout)

    def until(self, holds: Callable[[Any], bool], seconds: float, *args: str) -> Any:
        """`trackway ARGS --json` again and again until its answer `holds`."""
        deadline = time.monotonic() + seconds
        while True:
            doc = self.json(*args)
            if holds(doc):
                return doc
            assert time.monotonic() < deadline, f"not yet after {seconds} s: {doc}"
            time.sleep(0.5)


@contextmanager
def serve_stack(
    tmp_path: Path, dns: ChallTestSrv, acme: str = "", checks: str = "", more: str = ""
) -> Iterator[ServeStack]:
    """`acme`, `checks`: more lines for those sections of the settings; `more`: other
    sections."""
    http_port, https_port = free_port(), free_port()
    with Pebble(tmp_path / "pebble", dns=dns.nameserver, http_port=http_port) as pebble:
        root = tmp_path / "pebble-root.pem"
        root.write_bytes(pebble.root_pem())
        config = tmp_path / "trackway.toml"
        config.write_text(
            f'[regions]\nus = "{US}"\n'
            f'[dns]\nnameservers = ["{dns.nameserver}"]\ntimeout = 1.0\n'
            f'[checks]\nhttp_port = {http_port}\nhttps_port = {https_port}\nca_bundle = "{root}"\n'
            f'timeout = 3\nallowed_networks = ["127.0.0.0/8"]\n{checks}'
            f'[acme]\ndirectory = "{pebble.directory}"\nca_bundle = "{pebble.ca_file}"\n'
            f'email = "ops@example.com"\n{acme}{more}'
        )
        data = tmp_path / "data"
        extra = ["--config", str(config), "--https", f"127.0.0.1:{https_port}"]
        server = ServerProcess(data, *extra, workers=1)
        server.args[server.args.index("--http") + 1] = f"127.0.0.1:{http_port}"
        with server:
            yield ServeStack(data, config, root, http_port, https_port, dns, server)
