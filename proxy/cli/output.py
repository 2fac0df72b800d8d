"""What the command line says: its one error, and times as ISO 8601 in UTC."""

from __future__ import annotations

import time

from config.errors import InvalidInput


class CliError(InvalidInput):
    """A command line that cannot be carried out as given (a flag's value, a file)."""


def iso_utc(ts: float, millis: bool = False) -> str:
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    return f"{text}.{int(ts * 1000) % 1000:03d}Z" if millis else f"{text}Z"
