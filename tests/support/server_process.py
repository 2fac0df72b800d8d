"""`trackway serve` as a real process, for tests."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

ANNOUNCE = re.compile(r"trackway: (public|admin) listener http://127\.0\.0\.1:(\d+)")


class ServerProcess:
    def __init__(
        self,
        data: Path,
        *extra: str,
        workers: int = 1,
        env: dict[str, str] | None = None,
        fd_limit: int | None = None,
    ) -> None:
        """`fd_limit`: RLIMIT_NOFILE of the server's processes (soft and hard)."""
        self.data = data
        self.args = [
            sys.executable, "-m", "proxy.cli", "serve", "--data", str(data),
            "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers", str(workers), *extra,
        ]  # fmt: skip
        clean = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
        self.env = {**clean, **(env or {})}
        self.output: list[str] = []
        self.ports: dict[str, int] = {}
        self.proc: subprocess.Popen[str] | None = None
        self.fd_limit = fd_limit

    def __enter__(self) -> ServerProcess:
        self.proc = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=self.env, start_new_session=True,
            preexec_fn=self._limit_fds if self.fd_limit is not None else None,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        assert self.proc.stdout is not None
        while len(self.ports) < 2:
            assert time.monotonic() < deadline, "server did not announce itself"
            line = self.proc.stdout.readline()
            assert line, f"server exited: {''.join(self.output)}"
            self.output.append(line)
            m = ANNOUNCE.search(line)
            if m:
                self.ports[m.group(1)] = int(m.group(2))
        while len(self.output) < 4:
            self.output.append(self.proc.stdout.readline())
        self.wait_healthy()
        return self

    def _limit_fds(self) -> None:  # in the child, before exec
        assert self.fd_limit is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.fd_limit, self.fd_limit))

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "server never became healthy"
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['public']}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['admin']}"

    def signal_all(self, sig: int) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)

    def signal_parent(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def group(self) -> list[int]:
        """Processes still alive in the server's process group (its children stay in it)."""
        assert self.proc is not None
        return process_group(self.proc.pid)

    def wait_group_gone(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self.group():
            assert time.monotonic() < deadline, f"still running: {self.group()}"
            time.sleep(0.1)

    def wait(self, timeout: float = 30) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def process_group(pgid: int) -> list[int]:
    """Live (not zombie) processes whose process group is `pgid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(stat.parent.name))
    return found
