"""The command line, run as users run it: a real `trackway` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.cli.main import main
from tests.redirector.links.test_keystore import MALFORMED
from tests.support.corpus import corpus_dir


def trackway(
    *args: str, data: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "proxy.cli", *args, "--data", str(data)],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_rewrite_then_decode(tmp_path: Path) -> None:
    email = corpus_dir() / "rendered-mailgen" / "salted.html"
    report = tmp_path / "report.json"
    done = trackway(
        "rewrite", str(email), "--base-url", "https://links.example.com",
        "--message-id", "01JDQ8Z6W3V9R2K4M5N6P7Q8RS", "--recipient", "rcpt-1",
        "--utm", "utm_source=email", "utm_medium=mail", "--report", str(report),
        data=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert b"https://links.example.com/c/" in done.stdout
    doc = json.loads(report.read_text())
    assert doc["links_tracked"] >= 1
    link = next(link for link in doc["links"] if link["tracked_url"])
    decoded = trackway("links", "decode", link["tracked_url"], "--json", data=tmp_path)
    assert decoded.returncode == 0, decoded.stderr
    claims = json.loads(decoded.stdout)
    assert claims["url"].startswith(link["url"].split("?")[0])
    assert "utm_source=email" in claims["url"]
    assert claims["message_id"] == "01JDQ8Z6W3V9R2K4M5N6P7Q8RS"
    assert claims["recipient_id"] == "rcpt-1"
    assert claims["link_index"] == link["index"]
    assert {"key_id", "sent_at"} <= claims.keys()


def test_rewrite_stdin_text_keeps_other_bytes(tmp_path: Path) -> None:
    body = "Hi\xe9 \r\nSee https://a.example/x.\r\n".encode("latin-1")
    done = trackway(
        "rewrite", "-", "--text", "--base-url", "http://t.example", data=tmp_path, stdin=body
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"Hi\xe9 \r\nSee http://t.example/c/")
    assert done.stdout.endswith(b".\r\n")


def test_decode_refuses_forged_links(tmp_path: Path) -> None:
    done = trackway(
        "links",
        "decode",
        "https://links.example.com/c/AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRob",
        data=tmp_path,
    )
    assert done.returncode == 1
    assert b"not a valid link: unknown key" in done.stderr
    done = trackway("links", "decode", "garbage!", "--json", data=tmp_path)
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"] == "malformed"


def test_keys_rotate_and_retire(tmp_path: Path) -> None:
    first = json.loads(trackway("keys", "list", "--json", data=tmp_path).stdout)
    assert [k["status"] for k in first] == ["signing"]
    assert trackway("keys", "rotate", data=tmp_path).returncode == 0
    listed = json.loads(trackway("keys", "list", "--json", data=tmp_path).stdout)
    assert [k["status"] for k in listed] == ["verifying", "signing"]
    done = trackway("keys", "retire", first[0]["key_id"], data=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = json.loads(trackway("keys", "list", "--json", data=tmp_path).stdout)
    assert listed[0]["status"] == "retired"
    last = trackway("keys", "retire", listed[1]["key_id"], data=tmp_path)
    assert last.returncode == 1
    assert b"only active key" in last.stderr


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    missing = trackway(
        "rewrite", str(tmp_path / "nope.html"), "--base-url", "https://t.example", data=tmp_path
    )
    assert missing.returncode == 1
    assert b"cannot read" in missing.stderr
    no_base = trackway("rewrite", "-", data=tmp_path, stdin=b"")
    assert no_base.returncode == 1
    assert b"--base-url" in no_base.stderr
    bad_utm = trackway(
        "rewrite",
        "-",
        "--base-url",
        "https://t.example",
        "--utm",
        "nope",
        data=tmp_path,
        stdin=b"",
    )
    assert bad_utm.returncode == 1
    bad_config = trackway("keys", "list", "--config", str(tmp_path / "none.toml"), data=tmp_path)
    assert bad_config.returncode == 1
    assert b"config file not found" in bad_config.stderr


def test_common_options_before_or_after_the_subcommand(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
    for args in (
        ["--data", str(tmp_path / "a"), "keys", "list"],
        ["keys", "list", "--data", str(tmp_path / "b")],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "proxy.cli", *args],
            capture_output=True,
            env=env,
            timeout=60,
            check=False,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "a" / "keys.json").exists()
    assert (tmp_path / "b" / "keys.json").exists()
    assert not (tmp_path / "trackway-data").exists()
    done = subprocess.run(
        [sys.executable, "-m", "proxy.cli", "keys", "list"], capture_output=True, timeout=60, check=False,
        env={**env, "TRACKWAY_DATA": str(tmp_path / "c")}, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "c" / "keys.json").exists()


@pytest.mark.parametrize("content", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_key_ring_is_one_line_from_the_cli(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "keys.json").write_bytes(content)
    umask = os.umask(0o022)  # `main` sets this process's: put it back after
    try:
        assert main(["keys", "list", "--data", str(tmp_path)]) == 1
    finally:
        os.umask(umask)
    err = capsys.readouterr().err
    assert err.startswith(f"trackway: cannot read the key ring {tmp_path / 'keys.json'}: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "command",
    [["keys", "list"], ["keys", "rotate"], ["keys", "retire", "0a0b0c0d"],
     ["rewrite", "-", "--base-url", "https://t.example", "--message-id", "m",
      "--recipient", "r"]],
    ids=["list", "rotate", "retire", "rewrite"],
)  # fmt: skip
def test_a_non_hex_key_id_is_one_line_in_every_command(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "keys.json").write_bytes(MALFORMED["non-hex id"])
    done = trackway(*command, data=tmp_path, stdin=b"<a href='https://example.com/'>x</a>")
    assert done.returncode == 1
    assert done.stderr.decode().startswith("trackway: cannot read the key ring ")
    assert done.stderr.count(b"\n") == 1
