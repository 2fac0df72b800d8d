"""What every process of `serve` does the same way: its loop, its log lines, its stop."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from config import Settings
from redirector import metrics

SHUTDOWN_SECONDS = 10.0
METRICS_DIR = ".metrics"  # in the data folder: every process's metrics, for /metrics


def start_process(settings: Settings) -> None:
    """What each process of `serve` does first: its log lines, its shared metrics."""
    configure_logging()
    metrics.share_in(settings.data / METRICS_DIR)


def clear_shared_metrics(settings: Settings) -> None:
    """Before the processes start: the last run's processes are gone, and so are their
    values (counters start from zero, as every exporter's do after a restart)."""
    folder = settings.data / METRICS_DIR
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700)


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
