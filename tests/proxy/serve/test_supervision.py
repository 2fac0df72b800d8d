"""`trackway serve` as a daemon, with real processes (issue 10): every listener bound or
the start refused with one line; nothing outlives the supervisor; SIGTERM at any moment;
a worker that cannot start ends the server with its error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server_process import ServerProcess, process_group


def serve(data: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    return subprocess.Popen(
        [sys.executable, "-m", "proxy.cli", "serve", "--data", str(data), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip


def refused(proc: subprocess.Popen[str], seconds: float = 20) -> str:
    """The one line of a start that was refused; nothing of it left running."""
    _, err = proc.communicate(timeout=seconds)
    assert proc.returncode == 1, err
    assert err.count("\n") == 1, err
    assert process_group(proc.pid) == []
    return err


@pytest.fixture
def taken() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


@pytest.mark.parametrize("flag", ["--http", "--admin", "--https"])
def test_a_listener_that_cannot_be_bound_refuses_the_start(
    tmp_path: Path, taken: socket.socket, flag: str
) -> None:
    address = f"127.0.0.1:{taken.getsockname()[1]}"
    others = {"--http": "127.0.0.1:0", "--admin": "127.0.0.1:0", flag: address}
    args = [a for pair in others.items() for a in pair]
    err = refused(serve(tmp_path, *args, "--workers", "2"))
    assert f"cannot listen on {address} ({flag})" in err


def test_a_second_server_on_the_same_port_is_refused(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "first", workers=2) as first:
        address = f"127.0.0.1:{first.ports['public']}"
        err = refused(serve(tmp_path / "second", "--http", address, "--admin", "127.0.0.1:0"))
        assert f"cannot listen on {address} (--http)" in err
        with urllib.request.urlopen(f"{first.url}/healthz", timeout=5) as resp:  # noqa: S310
            assert resp.status == 200


def test_the_supervisors_death_takes_its_children(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, workers=2) as server:
        # supervisor, writer, two workers (and multiprocessing's resource tracker)
        assert len(server.group()) >= 4
        server.signal_parent(signal.SIGKILL)
        server.wait()
        server.wait_group_gone(seconds=15)  # they stop as on SIGTERM: drain, flush


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8, 1.5])
def test_sigterm_is_honoured_while_starting(tmp_path: Path, delay: float) -> None:
    proc = serve(tmp_path, "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers", "2")
    time.sleep(delay)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 20
    while process_group(proc.pid):
        assert time.monotonic() < deadline, process_group(proc.pid)
        time.sleep(0.1)


def test_a_worker_that_keeps_failing_at_start_ends_the_server(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, workers=1) as server:
        (tmp_path / "keys.json").write_text("{ damaged")
        workers = [pid for pid in server.group() if pid != server.proc.pid]  # type: ignore[union-attr]
        for pid in workers:
            os.kill(pid, signal.SIGKILL)  # the writer or the worker: both read the ring anew
        assert server.wait(timeout=60) == 1
        server.wait_group_gone(seconds=20)
        assert server.proc is not None
        assert server.proc.stdout is not None
        rest = server.proc.stdout.read()
    assert "another in 0.5 s" in rest  # restarted with a growing delay …
    assert "another in 1.0 s" in rest
    last = rest.strip().splitlines()[-1]  # … then the server ends with the worker's error
    assert last.startswith(
        "trackway: the worker failed 3 times at start: cannot read the key ring"
    )


def test_a_trackway_starting_on_the_port_keeps_others_off(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with socket.socket(socket.AF_UNIX) as claim:  # what a starting trackway holds
        claim.bind(f"\0trackway-port:127.0.0.1:{port}")
        err = refused(serve(tmp_path, "--http", f"127.0.0.1:{port}", "--admin", "127.0.0.1:0"))
    assert f"cannot listen on 127.0.0.1:{port} (--http): another trackway has it" in err


def test_a_dead_workers_share_of_connections_goes_to_the_others(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, workers=2) as server:
        assert server.proc is not None
        workers = [p for p in server.group() if p != server.proc.pid]
        # The worker that answers is killed; the writer and tracker are left alone.
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as resp:  # noqa: S310
            assert resp.status == 200
        victim = next(p for p in workers if _serves(p, server.ports["public"]))
        port = server.ports["public"]
        assert len(_listening(port)) == 2  # one socket a worker (the supervisor's copies too)
        os.kill(victim, signal.SIGKILL)
        # Its socket is closed (or the kernel would go on queueing a share of the
        # connections where nobody accepts them) until its successor binds a new one.
        deadline = time.monotonic() + 5
        while len(_listening(port)) != 1:
            assert time.monotonic() < deadline, "the dead worker's socket stayed open"
            time.sleep(0.01)
        for _ in range(20):  # meanwhile the other worker answers every connection
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as resp:  # noqa: S310
                assert resp.status == 200
        deadline = time.monotonic() + 20
        while len(_listening(port)) != 2:
            assert time.monotonic() < deadline, "no successor"
            time.sleep(0.05)


def test_a_refused_start_leaves_the_running_servers_metrics(tmp_path: Path) -> None:
    with ServerProcess(tmp_path, workers=1) as server:
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{server.url}/c/nothing", timeout=5)  # noqa: S310
        counted = 'trackway_requests_total{route="click",status="404"} 1.0'
        assert counted in _metrics(server)
        address = f"127.0.0.1:{server.ports['public']}"
        refused(serve(tmp_path, "--http", address, "--admin", "127.0.0.1:0"))
        assert counted in _metrics(server)


def _metrics(server: ServerProcess) -> str:
    with urllib.request.urlopen(f"{server.admin_url}/metrics", timeout=5) as resp:  # noqa: S310
        return str(resp.read().decode())


def _listening(port: int) -> set[str]:
    """The inodes of the sockets listening on `port` (/proc/net/tcp)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
            inodes.add(fields[9])
    return inodes


def _serves(pid: int, port: int) -> bool:
    """Whether process `pid` holds a socket listening on `port`."""
    inodes = _listening(port)
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False
