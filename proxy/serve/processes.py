"""What every process of `serve` does the same way: its loop, its log lines, its stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any

SHUTDOWN_SECONDS = 10.0


def run(coro: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(coro)
    else:
        uvloop.run(coro)


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format=f"trackway[{os.getpid()}] %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def stop_event() -> asyncio.Event:
    """Set by SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
