"""The writer process of `serve`: the only SQLite writer of the data folder.

Workers make every click durable in their own spool file before they answer; this
process loads those files into the database, behind them, the way every loader does
(`redirector.recording.spool_loader`). On SIGTERM, once the workers are gone (the
supervisor stops them first), it loads what is left and stops.
"""

from __future__ import annotations

from collections.abc import Callable
from multiprocessing.connection import Connection

from config import Settings
from proxy.data_folder import open_loader
from proxy.serve.processes import run_child, stop_event
from redirector.recording.spool_loader import keep_loading


def writer_main(settings: Settings, parent_pid: int, status: Connection) -> None:
    run_child(settings, parent_pid, status, lambda ready: _writer(settings, ready))


async def _writer(settings: Settings, ready: Callable[[], None]) -> None:
    stop = stop_event()
    loader = open_loader(settings)
    ready()
    await keep_loading(loader, stop, settings.store.load_priority)
