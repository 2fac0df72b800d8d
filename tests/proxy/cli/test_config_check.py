"""`trackway config check [FILE]`: the example passes, a broken file names every wrong
key with its reason and exits 1, through the same loader as `serve` (issue 13)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.proxy.cli.test_cli import trackway

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "trackway.example.toml"


def check(
    *args: str, data: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", "config", "check", *args, "--data", str(data)],
        capture_output=True, text=True, env={**clean, **(env or {})}, timeout=60, check=False,
    )  # fmt: skip


def test_the_example_is_ok(tmp_path: Path) -> None:
    done = check(str(EXAMPLE), data=tmp_path / "data")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"ok: {EXAMPLE}\n", "")
    assert not (tmp_path / "data").exists()  # a check makes no data folder


@pytest.mark.parametrize(
    ("toml", "lines"),
    [
        ("[serer]\nhttp = '0.0.0.0:80'\n", ["unknown section: serer (did you mean server?)"]),
        (
            "[server]\nwokers = 2\n",
            ["unknown setting: server.wokers (did you mean server.workers?)"],
        ),
        ("[server]\nworkers = 'two'\n", ["server.workers: expected an integer, got 'two'"]),
        (
            "[proxy]\nredirect_http = 'maybe'\n",
            ["proxy.redirect_http: expected true or false, got 'maybe'"],
        ),
        ("[dns]\ntimeout = 61\n", ["dns.timeout: more than 0, at most 60 seconds, got 61.0"]),
        ("[store]\nsynchronous = 'off'\n", ["store.synchronous: one of full, normal"]),
        (
            "[serer]\n[server]\nworkers = 2000\nhttp = 'x'\n[checks]\nhttp_port = 0\n",
            [
                "unknown section: serer (did you mean server?)",
                "server.workers: from 0 to 1024 (0: one per core), got 2000",
                "server.http: expected HOST:PORT, got 'x'",
                "checks.http_port: from 1 to 65535 (a port), got 0",
            ],
        ),
    ],
)
def test_a_broken_file_names_each_wrong_key(tmp_path: Path, toml: str, lines: list[str]) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text(toml)
    done = check(str(config), data=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"trackway: {line}" for line in lines]


def test_a_toml_syntax_error_says_where(tmp_path: Path) -> None:
    config = tmp_path / "trackway.toml"
    config.write_text("[server]\nworkers = 2\nhttp = 0.0.0.0:80\n")
    done = check(str(config), data=tmp_path)
    assert done.returncode == 1
    # tomllib's wording varies between Python versions; the place does not.
    assert re.fullmatch(
        rf"trackway: config file {re.escape(str(config))}: .+ \(at line 3, column 11\)\n",
        done.stderr,
    ), done.stderr


def test_a_missing_file(tmp_path: Path) -> None:
    done = check(str(tmp_path / "nope.toml"), data=tmp_path)
    assert done.returncode == 1
    assert done.stderr == f"trackway: config file not found: {tmp_path / 'nope.toml'}\n"


def test_the_file_defaults_to_config_then_the_variable(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text("[server]\nworkers = 2\n")
    bad.write_text("[server]\nworkers = -2\n")
    by_flag = check("--config", str(good), data=tmp_path, env={"TRACKWAY_CONFIG": str(bad)})
    assert (by_flag.returncode, by_flag.stdout) == (0, f"ok: {good}\n")
    by_variable = check(data=tmp_path, env={"TRACKWAY_CONFIG": str(bad)})
    assert by_variable.returncode == 1
    assert "server.workers: from 0 to 1024" in by_variable.stderr
    # FILE wins over both.
    given = check(str(good), "--config", str(bad), data=tmp_path)
    assert (given.returncode, given.stdout) == (0, f"ok: {good}\n")


def test_no_file_at_all_is_an_error(tmp_path: Path) -> None:
    done = check(data=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (
        "trackway: no settings file to check: give FILE, --config FILE or $TRACKWAY_CONFIG\n"
    )


def test_the_variables_serve_would_read_are_checked_with_the_file(tmp_path: Path) -> None:
    env = {"TRACKWAY_SERVER_WORKERS": "-1"}
    done = check(str(EXAMPLE), data=tmp_path, env=env)
    assert done.returncode == 1
    assert done.stderr == (
        "trackway: $TRACKWAY_SERVER_WORKERS: server.workers: from 0 to 1024 (0: one per core), "
        "got -1\n"
    )


def test_serve_names_the_same_errors(tmp_path: Path) -> None:
    """One loader: what `config check` says is what `serve` refuses to start with."""
    config = tmp_path / "trackway.toml"
    config.write_text("[server]\nwokers = 2\n[clicks]\nburst_links = 1\n")
    checked = check(str(config), data=tmp_path)
    served = trackway(
        "serve", "--config", str(config), "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0",
        data=tmp_path,
    )  # fmt: skip
    assert served.returncode == checked.returncode == 1
    assert served.stderr.decode() == checked.stderr
    assert checked.stderr.count("\n") == 2


def test_a_pair_beside_a_wrong_value_is_not_blamed_by_check_or_serve(tmp_path: Path) -> None:
    """eab_kid and eab_hmac_key given together are right: only the directory is named."""
    config = tmp_path / "trackway.toml"
    config.write_text("[acme]\neab_kid = 'k'\neab_hmac_key = 'h'\ndirectory = 'ftp://x'\n")
    checked = check(str(config), data=tmp_path)
    served = trackway(
        "serve", "--config", str(config), "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0",
        data=tmp_path,
    )  # fmt: skip
    assert checked.returncode == served.returncode == 1
    expected = 'trackway: acme.directory: a directory URL, "staging" or "production"\n'
    assert checked.stderr == served.stderr.decode() == expected


def test_a_misspelt_variable_is_answered_with_the_variable_to_set(tmp_path: Path) -> None:
    done = check(str(EXAMPLE), data=tmp_path, env={"TRACKWAY_DNS_TIMEUT": "3"})
    assert done.returncode == 1
    assert done.stderr == (
        "trackway: $TRACKWAY_DNS_TIMEUT: unknown setting: dns.timeut "
        "(did you mean TRACKWAY_DNS_TIMEOUT?)\n"
    )
