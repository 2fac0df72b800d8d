"""What the command line says: its one error, and times as ISO 8601 in UTC."""

from __future__ import annotations

import time


class CliError(Exception):
    """A user-facing failure: printed as `trackway: message`, exit status 1."""


def iso_utc(ts: float, millis: bool = False) -> str:
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    return f"{text}.{int(ts * 1000) % 1000:03d}Z" if millis else f"{text}Z"
