"""contrib/trackway.service: the systemd unit the README's walk-through installs.

Its essential keys are asserted one by one (a unit that starts as root, or whose stop
signals every process at once, still starts), its ExecStart must name a subcommand and
flags that `trackway serve --help` has, and `systemd-analyze verify` must accept it
(it parses units without a running systemd)."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from proxy.serve.processes import SHUTDOWN_SECONDS

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "contrib" / "trackway.service"


def unit() -> configparser.ConfigParser:
    # strict=False: systemd allows a key more than once; the last one wins here.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text("utf-8"))
    return parser


def exec_start() -> list[str]:
    return shlex.split(unit()["Service"]["ExecStart"])


def serve_help() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "proxy.cli", "serve", "--help"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_the_unit_runs_unprivileged_with_the_one_capability_it_needs() -> None:
    service = unit()["Service"]
    assert service["User"] == "trackway"
    assert service["Group"] == "trackway"
    assert service["AmbientCapabilities"] == "CAP_NET_BIND_SERVICE"
    assert service["CapabilityBoundingSet"] == "CAP_NET_BIND_SERVICE"
    assert service["NoNewPrivileges"] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "trackway"
    assert service["StateDirectoryMode"] == "0700"
    assert "/var/lib/trackway" in service["ReadWritePaths"].split()
    assert int(service["LimitNOFILE"]) >= 4096


def test_the_unit_lets_the_supervisor_drain_and_restarts_on_failure() -> None:
    service = unit()["Service"]
    # The supervisor stops the workers, then the writer: it alone gets SIGTERM.
    assert service["KillMode"] == "mixed"
    assert service.get("KillSignal", "SIGTERM") == "SIGTERM"
    assert service["Restart"] == "on-failure"
    assert float(service["RestartSec"]) > 0
    # Workers drain for up to 10 s (processes.SHUTDOWN_SECONDS) and are waited for up
    # to 15 s each, then the writer up to 15 s: systemd must wait longer than that.
    waited = 2 * (SHUTDOWN_SECONDS + 5)
    assert float(service["TimeoutStopSec"]) > waited
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_exec_start_uses_the_data_folder_systemd_makes() -> None:
    argv = exec_start()
    data = argv[argv.index("--data") + 1]
    assert data == "/var/lib/" + unit()["Service"]["StateDirectory"]


def test_exec_start_names_a_subcommand_and_flags_that_serve_has() -> None:
    argv = exec_start()
    assert Path(argv[0]).name == "trackway"
    assert argv[1] == "serve"
    flags = [a for a in argv[2:] if a.startswith("--")]
    assert {"--data", "--config", "--http", "--https", "--admin"} <= set(flags)
    offered = set(re.findall(r"--[a-z][a-z-]*", serve_help()))
    assert [f for f in flags if f not in offered] == []
    # The admin listener stays on loopback: the admin API is not for the internet.
    assert argv[argv.index("--admin") + 1].startswith("127.0.0.1:")


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze not found: apt-get install systemd"
    # verify checks that ExecStart's program exists: the copy names this venv's trackway.
    installed = Path(sys.executable).with_name("trackway")
    assert installed.exists(), f"{installed}: pip install -e . first"
    copy = tmp_path / "trackway.service"
    copy.write_text(
        UNIT.read_text("utf-8").replace("/opt/trackway/.venv/bin/trackway", str(installed)),
        "utf-8",
    )
    done = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    # verify exits 0 even for an unknown key or a wrong value: its warnings name the file.
    complaints = [line for line in done.stderr.splitlines() if copy.name in line]
    assert done.returncode == 0, done.stderr
    assert complaints == []


def test_verify_would_catch_a_wrong_unit(tmp_path: Path) -> None:
    """The check above can fail: a wrong value is a complaint naming the file."""
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze not found: apt-get install systemd"
    installed = Path(sys.executable).with_name("trackway")
    copy = tmp_path / "trackway.service"
    text = UNIT.read_text("utf-8").replace("/opt/trackway/.venv/bin/trackway", str(installed))
    copy.write_text(text.replace("KillMode=mixed", "KillMode=bogus"), "utf-8")
    done = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert any(copy.name in line and "kill mode" in line for line in done.stderr.splitlines())
