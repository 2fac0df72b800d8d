"""Data-folder helpers."""

from __future__ import annotations

from pathlib import Path

from config.datafolder import unused_path


def test_a_copy_kept_aside_twice_in_a_second_overwrites_nothing(tmp_path: Path) -> None:
    base = tmp_path / "keys.json.local-20261204T000000Z"
    assert unused_path(base) == base
    base.write_bytes(b"first")
    second = unused_path(base)
    assert second.name == "keys.json.local-20261204T000000Z-2"
    second.write_bytes(b"second")
    assert unused_path(base).name == "keys.json.local-20261204T000000Z-3"
    assert base.read_bytes() == b"first"
