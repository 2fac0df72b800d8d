"""Files the command line cannot use are one line and exit 1, never a traceback (issue 11):
a `--config` that is a folder, unreadable or not UTF-8; the data folder's secrets (the
admin token above all) that cannot be read. As root, file modes stop no read: a folder,
`/proc/self/mem` (reads fail with EIO) and bad bytes stand in for unreadable files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.datafolder import DataFolderError
from proxy.data_folder import ADMIN_TOKEN_FILE, admin_token
from tests.proxy.cli.test_cli import trackway

SERVE = ("serve", "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers", "1")


def one_line(done: subprocess.CompletedProcess[bytes]) -> str:
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert err.startswith("trackway: "), err
    assert err.count("\n") == 1, err  # no traceback
    return err


@pytest.mark.parametrize("command", [("keys", "list"), SERVE], ids=lambda c: c[0])
@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("a-folder", "cannot read the config file {}: Is a directory"),
        ("/proc/self/mem", "cannot read the config file {}: Input/output error"),
        ("latin1.toml", "config file {} is not UTF-8 text (byte 0xe9 at offset 23)"),
    ],
)
def test_a_config_file_that_cannot_be_read_is_one_line(
    tmp_path: Path, command: tuple[str, ...], config: str, message: str
) -> None:
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "latin1.toml").write_bytes(b'base_url = "https://caf\xe9.example"\n')
    path = config if config.startswith("/") else str(tmp_path / config)
    err = one_line(trackway(*command, "--config", path, data=tmp_path / "data"))
    assert message.format(path) in err


def test_a_config_file_named_by_the_variable_is_one_line_too(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    done = subprocess.run(
        [sys.executable, "-m", "proxy.cli", "keys", "list", "--data", str(tmp_path)],
        env={**env, "TRACKWAY_CONFIG": str(tmp_path)},
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert f"cannot read the config file {tmp_path}: Is a directory" in one_line(done)


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("admin-token", Path.mkdir, "cannot read {}: Is a directory"),
        ("client-salt", Path.mkdir, "cannot read {}: Is a directory"),
        ("check-secret", Path.mkdir, "cannot read {}: Is a directory"),
        (
            "admin-token",
            lambda p: p.write_bytes(b"\xff\xfe t\xf6ken\n"),
            "{} holds no admin token (not ASCII text)",
        ),
        ("admin-token", lambda p: p.write_bytes(b" \n"), "{} holds no admin token (it is empty)"),
    ],
)
def test_serve_says_which_secret_cannot_be_read(
    tmp_path: Path, name: str, make: object, message: str
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)  # private, as trackway makes it: no line about tightening
    make(data / name)  # type: ignore[operator]
    err = one_line(trackway(*SERVE, data=data))
    assert message.format(data / name) in err
    assert "listen" not in err  # it was reported as "cannot listen: Permission denied"


def test_an_admin_token_that_is_no_token_never_opens_the_api(tmp_path: Path) -> None:
    """An empty token file made `Authorization: Bearer ` (nothing after it) pass: the
    admin API answered 200 to anyone."""
    (tmp_path / ADMIN_TOKEN_FILE).write_text("\n")
    with pytest.raises(DataFolderError, match="holds no admin token"):
        admin_token(tmp_path)
