"""The writer process of `serve`: the only SQLite writer of the data folder.

Workers make every click durable in their own spool file before they answer; this
process loads those files into the database, behind them, the way every loader does
(`redirector.recording.spool_loader`). On SIGTERM, once the workers are gone (the
supervisor stops them first), it loads what is left and stops.
"""

from __future__ import annotations

from config import Settings
from proxy.data_folder import open_loader
from proxy.serve.processes import run, start_process, stop_event
from redirector.recording.spool_loader import keep_loading


def writer_main(settings: Settings) -> None:
    start_process(settings)
    run(_writer(settings))


async def _writer(settings: Settings) -> None:
    await keep_loading(open_loader(settings), stop_event(), settings.store.load_priority)
