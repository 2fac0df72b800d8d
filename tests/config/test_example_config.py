"""trackway.example.toml documents every setting, each at its default (issue 13): a
setting added to the schema without a line there fails here."""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from pathlib import Path
from typing import Any

import pytest

from config import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "trackway.example.toml"


def schema(cls: type[Any] = Settings, prefix: str = "") -> dict[str, type[Any] | None]:
    """Every dotted key of the settings, from the dataclasses themselves: a section maps
    to None, each setting to its type."""
    keys: dict[str, type[Any] | None] = {}
    for name, tp in typing.get_type_hints(cls).items():
        if isinstance(tp, type) and dataclasses.is_dataclass(tp):
            keys[prefix + name] = None
            keys.update(schema(tp, f"{prefix}{name}."))
        else:
            keys[prefix + name] = tp
    return keys


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in table.items():
        flat[prefix + name] = value
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{name}."))
    return flat


def test_the_schema_is_read_from_the_dataclasses() -> None:
    keys = schema()
    assert keys["server"] is None
    assert keys["server.https"] is str
    assert keys["acme.enabled"] is bool
    assert {"dns.timeout", "checks.timeout", "proxy.redirect_http", "regions"} <= keys.keys()
    assert len(keys) > 50


def test_every_setting_is_in_the_example() -> None:
    written = flatten(tomllib.loads(EXAMPLE.read_text("utf-8")))
    missing = sorted(schema().keys() - written.keys())
    assert missing == []
    # Nothing more either: a key there that the schema lacks would be an error anyway.
    regions = {k for k in written if k.startswith("regions.")}
    assert sorted(written.keys() - schema().keys() - regions) == []


def test_the_example_holds_the_defaults() -> None:
    # Every key is written (above), so any value but the default would differ here; a
    # name for a default (directory = "production") loads as the default itself.
    assert load_settings(EXAMPLE, {}) == Settings()


KEY_LINE = re.compile(r"^([a-z_]+) = ")


def test_every_setting_says_what_it_does() -> None:
    """A setting is documented by the comment lines above it, or above the block of
    settings it begins with no blank line (idle, head and body seconds share one)."""
    undocumented = []
    documented = False
    for line in EXAMPLE.read_text("utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            documented = True
        elif not stripped or stripped.startswith("["):
            documented = False
        elif KEY_LINE.match(stripped) and not documented:
            undocumented.append(stripped)
    assert undocumented == []


@pytest.mark.parametrize(
    ("section", "key"),
    [("acme", "enabled"), ("dns", "timeout"), ("checks", "timeout"), ("server", "https")],
)
def test_the_settings_that_were_undocumented_are_now(section: str, key: str) -> None:
    block = EXAMPLE.read_text("utf-8").split(f"[{section}]\n", 1)[1].split("\n[", 1)[0]
    assert re.search(rf"\n# [^\n]+\n{key} = ", block), (section, key)
