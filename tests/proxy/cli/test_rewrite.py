"""`trackway rewrite` of bodies that are not plain UTF-8 HTML: other charsets, bodies
without links, bodies that are not text. Every byte of the body is kept."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.proxy.cli.test_cli import trackway

BASE = "https://t.example"
TRACKED = re.compile(rb"https://t\.example/c/[A-Za-z0-9_-]+")


def rewrite(data: Path, body: bytes, *args: str) -> tuple[bytes, bytes]:
    """The rewritten body and stderr of a successful run."""
    done = trackway("rewrite", "-", "--base-url", BASE, *args, data=data, stdin=body)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_a_latin1_email_gets_a_utf8_report_and_keeps_its_bytes(tmp_path: Path) -> None:
    body = "<a href='https://example.com/caf\xe9' data-link-label='men\xfa'>caf\xe9</a>"
    raw = body.encode("latin-1")
    report = tmp_path / "report.json"
    out, _ = rewrite(tmp_path / "data", raw, "--report", str(report))

    doc = json.loads(report.read_bytes().decode("utf-8"))
    (link,) = doc["links"]
    assert b"\\udce9" in report.read_bytes()  # the byte 0xE9, escaped
    # The escapes give the bytes back, as written in the email.
    assert link["original"].encode("utf-8", "surrogateescape") == b"https://example.com/caf\xe9"
    assert link["label"].encode("utf-8", "surrogateescape") == b"men\xfa"
    assert TRACKED.sub(b"https://example.com/caf\xe9", out) == raw
    assert out.count(b"\xe9") == 1  # the text's, untouched


def test_a_utf8_report_keeps_its_characters(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    rewrite(
        tmp_path / "data",
        "<a href='https://example.com/é'>é</a>".encode(),
        "--report",
        str(report),
    )
    assert "https://example.com/é" in report.read_text("utf-8")
    assert json.loads(report.read_bytes())["links"][0]["url"] == "https://example.com/é"


def test_decode_json_escapes_bytes_as_the_report_does(tmp_path: Path) -> None:
    raw = "<a href='https://example.com/caf\xe9'>x</a>".encode("latin-1")
    out, _ = rewrite(tmp_path, raw)
    (link,) = TRACKED.findall(out)
    decoded = trackway("links", "decode", link.decode(), "--json", data=tmp_path)
    assert decoded.returncode == 0, decoded.stderr
    claims = json.loads(decoded.stdout.decode("utf-8"))
    assert claims["url"].encode("utf-8", "surrogateescape") == b"https://example.com/caf\xe9"


def test_a_report_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    report = tmp_path / "missing" / "report.json"
    done = trackway(
        "rewrite", "-", "--base-url", BASE, "--report", str(report),
        data=tmp_path, stdin=b"<a href='https://example.com/'>x</a>",
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == f"trackway: cannot write {report}: No such file or directory\n".encode()


def test_a_body_without_links_is_written_with_a_warning(tmp_path: Path) -> None:
    body = b"<p>Hello \xe9</p>\r\n"
    out, err = rewrite(tmp_path, body, "--open-pixel")
    assert out.startswith(b"<p>Hello \xe9</p>\r\n<img src=")  # the pixel all the same
    assert err == b"trackway: no link found in standard input\n"
    page = tmp_path / "plain.txt"
    page.write_bytes(b"no links, only mailto:someone@example.com")
    done = trackway("rewrite", str(page), "--text", "--base-url", BASE, data=tmp_path)
    assert (done.returncode, done.stdout) == (0, page.read_bytes())
    assert done.stderr == f"trackway: no link found in {page}\n".encode()


def test_links_found_but_none_tracked_get_a_warning(tmp_path: Path) -> None:
    body = b"<a href='mailto:a@example.com'>a</a> <a href='#top'>b</a>"
    out, err = rewrite(tmp_path, body)
    assert out == body
    assert (
        err
        == b"trackway: none of the 2 links found in standard input was tracked (see --report)\n"
    )


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (
            "<a href='https://example.com/'>x</a>".encode("utf-16"),
            b"UTF-16 text (byte order mark)",
        ),
        (
            "<a href='https://example.com/'>x</a>".encode("utf-16-be"),
            b"UTF-16 text, it seems (no byte order mark)",
        ),
        (
            "<a href='https://example.com/'>x</a>".encode("utf-32"),
            b"UTF-32 text (byte order mark)",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR https://example.com/ \x00\x01", b"a PNG image"),
        (b"<a href='https://example.com/'>\x00\x01\x02</a>", b"binary data (NUL bytes)"),
    ],
    ids=["utf16-bom", "utf16-no-bom", "utf32-bom", "png", "nul"],
)
def test_a_body_that_is_not_text_is_written_unchanged_with_a_warning(
    tmp_path: Path, body: bytes, what: bytes
) -> None:
    report = tmp_path / "report.json"
    out, err = rewrite(tmp_path / "data", body, "--open-pixel", "--report", str(report))
    assert out == body  # no link rewritten, no pixel: bytes of another kind stay whole
    assert (
        err
        == b"trackway: standard input: "
        + what
        + b", not a body trackway can rewrite; written out unchanged\n"
    )
    assert json.loads(report.read_bytes())["links_found"] == 0


def test_utf8_with_a_byte_order_mark_is_text(tmp_path: Path) -> None:
    body = "\ufeff<a href='https://example.com/'>x</a>".encode()
    out, err = rewrite(tmp_path, body)
    assert out.startswith(b"\xef\xbb\xbf<a href='https://t.example/c/")
    assert err == b""
