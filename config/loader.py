"""Build `Settings` from defaults < TOML file < TRACKWAY_* variables < command-line values."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import itertools
import math
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config.errors import SettingsError
from config.settings import Settings

ENV_PREFIX = "TRACKWAY_"
# Variables that choose where settings come from rather than being settings themselves.
ENV_NOT_SETTINGS = frozenset({"TRACKWAY_CONFIG"})
UNKNOWN_SETTING = "unknown setting: "
UNKNOWN_SECTION = "unknown section: "
_HINT = re.compile(r" \(did you mean ([\w.]+)\?\)$")


def load_settings(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """`overrides` maps dotted keys (`data`, `server.http`) to values from the command line."""
    env = {} if env is None else env
    if config_file is None and env.get("TRACKWAY_CONFIG"):
        config_file = Path(env["TRACKWAY_CONFIG"])
    tree: dict[str, Any] = _read_toml(config_file) if config_file else {}
    variables: dict[str, str] = {}  # dotted key -> the variable that set it
    for name, raw in env.items():
        if name.startswith(ENV_PREFIX) and name not in ENV_NOT_SETTINGS:
            path = _env_key(name)
            _set_dotted(tree, path, raw, f"${name}")
            variables[".".join(path)] = name
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(tree, key.split("."), value, key)
            variables.pop(key, None)
    errors: list[str] = []
    settings = _build(Settings, tree, "", errors)
    if errors:
        # A value from the environment is invisible in any file: say which variable.
        lines = dict.fromkeys(_from_variable(e, variables) for e in errors)
        raise SettingsError("\n".join(lines))
    assert isinstance(settings, Settings)
    return settings


def _from_variable(error: str, variables: Mapping[str, str]) -> str:
    variable = variables.get(_named_key(error))
    if variable is None:
        return error
    # A typo in a variable is fixed by setting another variable, not a key of the file.
    hint = _HINT.search(error)
    if hint:
        name = ENV_PREFIX + hint[1].replace(".", "_").upper()
        error = f"{error[: hint.start()]} (did you mean {name}?)"
    return f"${variable}: {error}"


def _named_key(message: str) -> str:
    """The dotted key an error message of this module starts with."""
    for unknown in (UNKNOWN_SETTING, UNKNOWN_SECTION):
        if message.startswith(unknown):
            return message[len(unknown) :].partition(" ")[0]
    return message.partition(":")[0]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise SettingsError(f"config file not found: {path}") from None
    except OSError as e:  # a folder, a file that cannot be read
        raise SettingsError(f"cannot read the config file {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:  # TOML is UTF-8
        raise SettingsError(
            f"config file {path} is not UTF-8 text (byte 0x{e.object[e.start]:02x} at "
            f"offset {e.start})"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"config file {path}: {e}") from None


def _env_key(name: str) -> list[str]:
    rest = name[len(ENV_PREFIX) :].lower()
    sections = {
        name
        for name, tp in typing.get_type_hints(Settings).items()
        if _is_section(tp) or typing.get_origin(tp) is dict
    }
    head, _, tail = rest.partition("_")
    if head in sections and tail:
        return [head, tail]
    return [rest]


def _set_dotted(tree: dict[str, Any], path: list[str], value: Any, origin: str) -> None:
    node = tree
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise SettingsError(f"{origin}: {part} is not a section")
        node = child
    node[path[-1]] = value


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _build(cls: type[Any], values: Any, prefix: str, errors: list[str]) -> Any:
    """`cls` made of `values`, or None with every wrong key's complaint added to `errors`
    (all of them: a file is fixed in one go, not one error a run)."""
    if not isinstance(values, Mapping):
        errors.append(f"{prefix.rstrip('.')}: expected a table of settings")
        return None
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    found = len(errors)
    kwargs: dict[str, Any] = {}
    for name, raw in values.items():
        key = prefix + name
        if name not in known:
            errors.append(_unknown(name, raw, prefix, known))
        elif _is_section(hints[name]):
            section = _build(hints[name], raw, key + ".", errors)
            if section is not None:
                kwargs[name] = section
        else:
            try:
                kwargs[name] = _coerce(hints[name], raw, key)
            except SettingsError as e:
                errors.append(str(e))
    if len(errors) == found and _complaint(cls, kwargs) is None:
        return cls(**kwargs)
    # The checks of a section stop at their first complaint. The fewest fields which, put
    # back to their defaults, leave a valid section are the wrong ones; each is then
    # checked beside the section's other (valid) values, so that a pair which goes
    # together (acme.eab_kid, acme.eab_hmac_key) is not blamed for a third field's fault.
    wrong = _fewest_wrong(cls, kwargs)
    if wrong is None:  # values right alone, wrong only together: the section's own words
        errors.append(_complaint(cls, kwargs) or "")
        return None
    valid = {name: value for name, value in kwargs.items() if name not in wrong}
    for name in wrong:
        errors.extend(_check_beside(cls, valid, name, kwargs[name]))
    return None


def _fewest_wrong(cls: type[Any], kwargs: dict[str, Any]) -> list[str] | None:
    """The smallest set of fields (in the section's order) without which `cls` is valid,
    among the fields that are wrong alone; None when no such set exists."""
    suspects = [name for name in kwargs if _complaint(cls, {name: kwargs[name]})]
    for size in range(len(suspects) + 1):
        for wrong in itertools.combinations(suspects, size):
            if _complaint(cls, {k: v for k, v in kwargs.items() if k not in wrong}) is None:
                return list(wrong)
    return None


def _complaint(cls: type[Any], kwargs: dict[str, Any]) -> str | None:
    try:
        cls(**kwargs)
    except SettingsError as e:
        return str(e)
    return None


def _check_beside(cls: type[Any], valid: dict[str, Any], name: str, value: Any) -> list[str]:
    """The complaints about one field's value beside the valid others, each wrong item of
    a list or table apart."""
    try:
        cls(**valid, **{name: value})
    except SettingsError as e:
        if isinstance(value, dict) and len(value) > 1:
            parts: list[Any] = [{k: v} for k, v in value.items()]
        elif isinstance(value, tuple) and len(value) > 1:
            parts = [(item,) for item in value]
        else:
            return [str(e)]
        found = [m for part in parts for m in _check_beside(cls, valid, name, part)]
        return found or [str(e)]
    return []


def _unknown(name: str, raw: Any, prefix: str, known: list[str]) -> str:
    """An unknown key named, with the known one it is likely a typo of."""
    what = UNKNOWN_SECTION if isinstance(raw, Mapping) and not prefix else UNKNOWN_SETTING
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
    return f"{what}{prefix}{name}{hint}"


def _coerce(tp: Any, raw: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is str:
        if isinstance(raw, str):
            return raw
    elif tp is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in (
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        ):
            return raw.lower() in ("1", "true", "yes", "on")
    elif tp is int:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
            return int(raw)
    elif tp is float:
        # `nan` would turn a rule off and `inf` make a wait endless: finite numbers only.
        # (A huge integer overflows a float; in a string it becomes inf.)
        if isinstance(raw, int | float | str) and not isinstance(raw, bool):
            with contextlib.suppress(ValueError, OverflowError):
                number = float(raw)
                if math.isfinite(number):
                    return number
    elif tp is Path:
        if isinstance(raw, str | Path):
            return Path(raw)
    elif origin is tuple:
        items = [s.strip() for s in raw.split(",") if s.strip()] if isinstance(raw, str) else raw
        if isinstance(items, list | tuple) and all(isinstance(s, str) for s in items):
            return tuple(items)
    elif (
        origin is dict
        and isinstance(raw, Mapping)
        and all(isinstance(v, str) for v in raw.values())
    ):
        return {str(k): v for k, v in raw.items()}
    raise SettingsError(f"{key}: expected {_describe(tp)}, got {raw!r}")


def _describe(tp: Any) -> str:
    if typing.get_origin(tp) is tuple:
        return "a list of strings"
    if typing.get_origin(tp) is dict:
        return "a table of strings"
    return {
        str: "a string",
        bool: "true or false",
        int: "an integer",
        float: "a finite number",
    }.get(tp, "a path")
