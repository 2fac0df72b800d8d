"""A data folder that is a file, or cannot be made or written: one line, exit 1, for
every subcommand (issue 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.proxy.cli.test_cli import trackway

COMMANDS = [
    ("keys", "list"),
    ("links", "decode", "AAAA"),
    ("rewrite", "/dev/null", "--base-url", "https://links.example.com"),
    ("events", "export"),
    ("stats", "msg-1"),
    ("domains", "list"),
    ("certs", "list"),
    ("serve", "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("a-file", "is a file, not a folder"),
        ("a-file/below", "cannot make the folder"),
        ("/sys/kernel", "cannot write in /sys/kernel"),  # not even root writes there
    ],
)
def test_a_data_folder_that_cannot_be_used_is_one_line(
    tmp_path: Path, command: tuple[str, ...], where: str, message: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    done = trackway(*command, data=tmp_path / where)
    err = done.stderr.decode()
    assert done.returncode == 1
    assert err.startswith("trackway: ")
    assert message in err
    assert err.count("\n") == 1, err  # no traceback
