"""`pebble-challtestsrv` (Debian package `pebble`) as the tests' DNS server."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_tcp_udp_port() -> int:
    """A port free for both TCP and UDP (DNS listens on both)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port")


class ChallTestSrv:
    def __init__(self, log: Path) -> None:
        binary = shutil.which("pebble-challtestsrv")
        if binary is None:
            raise RuntimeError(
                "pebble-challtestsrv not found: apt-get install pebble (scripts/test does)"
            )
        self.dns_port = free_tcp_udp_port()
        self.management_port = free_port()
        self.args = [
            binary,
            "-dns01", f"127.0.0.1:{self.dns_port}",
            "-http01", "", "-https01", "", "-tlsalpn01", "",
            "-management", f"127.0.0.1:{self.management_port}",
            "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
        ]  # fmt: skip
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.dns_port}"

    def __enter__(self) -> ChallTestSrv:
        self._log = self.log.open("wb")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.management_port), timeout=1):
                    break
            except OSError:
                assert self.proc.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "challtestsrv did not start"
                time.sleep(0.05)
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(10)
        self._log.close()

    def _post(self, path: str, body: dict[str, object]) -> None:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.management_port}{path}",
            data=json.dumps(body).encode(),
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback only
            assert resp.status == 200, path

    def set_cname(self, host: str, target: str) -> None:
        self._post("/set-cname", {"host": host, "target": target})

    def clear_cname(self, host: str) -> None:
        self._post("/clear-cname", {"host": host})

    def set_txt(self, host: str, value: str) -> None:
        self._post("/set-txt", {"host": host.rstrip(".") + ".", "value": value})

    def clear_txt(self, host: str) -> None:
        self._post("/clear-txt", {"host": host.rstrip(".") + "."})

    def set_a(self, host: str, address: str) -> None:
        self._post("/add-a", {"host": host, "addresses": [address]})

    def clear_a(self, host: str) -> None:
        self._post("/clear-a", {"host": host})

    def set_servfail(self, host: str) -> None:
        self._post("/set-servfail", {"host": host})

    def clear_servfail(self, host: str) -> None:
        self._post("/clear-servfail", {"host": host})


@pytest.fixture(scope="package")
def dns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChallTestSrv]:
    """One DNS server for the tests of a folder whose conftest imports this fixture."""
    with ChallTestSrv(tmp_path_factory.mktemp("dns") / "challtestsrv.log") as server:
        yield server
