"""A throwaway PostgreSQL cluster (Debian's `postgresql`), for tests and benchmarks.

`initdb` refuses to run as root, so as root the cluster belongs to the `postgres` user
(`runuser`) in a temporary folder handed to it; as anyone else it is the caller's own.
It listens on a free port of 127.0.0.1 and on a socket in that folder (never the
system's), trusts local connections, and is stopped, bounded in time, at the end.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import psycopg
import pytest

from tests.support.challtestsrv import free_port

__all__ = ["PostgresCluster", "lapse_leases", "postgres_bin", "postgres_cluster", "postgres_url"]

USER = "trackway"


def postgres_bin() -> Path:
    """The newest installed server's binaries (/usr/lib/postgresql/VERSION/bin)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
    )
    if not found:
        raise RuntimeError("no PostgreSQL server installed: scripts/setup test installs it")
    return found[-1].parent


class PostgresCluster:
    def __init__(self, durable: bool = False) -> None:
        """`durable`: fsync and synchronous commits as in production (benchmarks);
        otherwise off, for a test cluster is thrown away."""
        self.durable = durable
        self.bin = postgres_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="trackway-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sockets"
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.root
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}")

    def start(self) -> PostgresCluster:
        self.socket_dir.mkdir()
        if self._as_root:
            owner = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", USER, "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        self._start_server()
        return self

    def stop(self) -> None:
        """Stopped (fast: open sessions are ended), or killed after 20 s."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "20", "stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            pid_file = self.data / "postmaster.pid"
            with contextlib.suppress(OSError, ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text().split()[0]), 9)

    def restart(self) -> None:
        """Started again after `stop`, on the same port."""
        self._start_server()

    def _start_server(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.socket_dir}"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
                  "-w", "-t", "30", "start")  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A database of its own (for one test); its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway cluster for the whole session."""
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A database of the test's own, empty."""
    return postgres_cluster.new_database()


def lapse_leases(url: str, seconds: float) -> None:
    """As if the database's clock moved on by `seconds` for the leases (which expire by
    that clock, not by the `now` a holder hands in): every expiry that much sooner."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE leases SET expires = expires - %s", (seconds,))
