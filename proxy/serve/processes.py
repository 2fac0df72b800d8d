"""What every process of `serve` does the same way: its loop, its log lines, its stop,
and for a child, following its supervisor and telling it how its start went."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import sys
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection
from typing import Any

from config import Settings
from config.datafolder import DataFolderError
from proxy.serve.children import FAILED, READY
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
    try:
        folder.mkdir(mode=0o700)
    except OSError as e:
        raise DataFolderError(f"cannot make the folder {folder}: {e.strerror or e}") from None


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


_PR_SET_PDEATHSIG = 1  # prctl(2)
log = logging.getLogger("trackway.server")


def follow_parent(parent_pid: int) -> None:
    """SIGTERM to this process when the supervisor dies, however it dies (even SIGKILL):
    a worker then stops like on any SIGTERM (in-flight clicks answered, durable), the
    writer after loading what it can. Nothing outlives the supervisor."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:  # it died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def run_child(
    settings: Settings,
    parent_pid: int,
    status: Connection,
    body: Callable[[Callable[[], None]], Coroutine[Any, Any, None]],
) -> None:
    """A child's whole life: `body(ready)` runs on the loop and calls `ready()` once it
    serves; an error before that is sent to the supervisor, which decides what to do."""
    start_process(settings)
    follow_parent(parent_pid)

    def ready() -> None:
        status.send((READY,))

    try:
        run(body(ready))
    except Exception as e:
        log.error("stopped by an error: %s", e, exc_info=log.isEnabledFor(logging.DEBUG))
        with contextlib.suppress(OSError):
            status.send((FAILED, str(e) or type(e).__name__))
        sys.exit(1)
