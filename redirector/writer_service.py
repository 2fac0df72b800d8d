"""The writer process: one SQLite writer for every worker of a data folder.

Workers send batches of hits over a Unix socket; this process turns them into events,
commits everything that arrived since the last commit in one transaction (or spools
it), and acknowledges each batch. It does nothing else, so it commits on its own loop:
while a commit runs, new batches wait in the socket buffers and make the next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from config import ClickSettings
from redirector import writer_frames
from redirector.batch_committer import BatchCommitter
from redirector.events import Event
from redirector.hits import event_from_hit

log = logging.getLogger("trackway.writer")


class WriterService:
    def __init__(self, committer: BatchCommitter, clicks: ClickSettings, salt: bytes) -> None:
        self.committer = committer
        self.clicks = clicks
        self.salt = salt
        self._arrived: list[tuple[list[Event], asyncio.StreamWriter, int]] = []
        self._wake = asyncio.Event()
        self._connections: set[asyncio.StreamWriter] = set()

    async def serve(self, socket_path: Path, stop: asyncio.Event) -> None:
        socket_path.unlink(missing_ok=True)
        server = await asyncio.start_unix_server(self._connection, path=str(socket_path))
        socket_path.chmod(0o600)
        committing = asyncio.create_task(self._commit_loop(stop))
        await stop.wait()
        server.close()
        # Workers stop first (the supervisor waits for them), so what they sent is here.
        self._wake.set()
        await committing
        for conn in list(self._connections):
            conn.close()
        socket_path.unlink(missing_ok=True)
        self.committer.close()

    async def _connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._connections.add(writer)
        try:
            while True:
                header = await reader.readexactly(writer_frames.HEADER_BYTES)
                body = await reader.readexactly(writer_frames.body_length(header))
                message = writer_frames.decode(body)
                events = [
                    event_from_hit(hit, self.clicks, self.salt)
                    for hit in writer_frames.hits_of(message)
                ]
                self._arrived.append((events, writer, int(message["id"])))
                self._wake.set()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the worker went away; what it sent before is committed
        except writer_frames.FrameError as e:
            log.error("dropping a worker connection: %s", e)
        except Exception:
            log.exception("dropping a worker connection after an unexpected error")
        finally:
            self._connections.discard(writer)
            writer.close()

    async def _commit_loop(self, stop: asyncio.Event) -> None:
        committer = self.committer
        committer.replay_if_due(force=True)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), committer.retry_seconds)
            self._wake.clear()
            arrived, self._arrived = self._arrived, []
            if arrived:
                committer.commit([event for events, _, _ in arrived for event in events])
                for _, conn, batch_id in arrived:
                    if not conn.is_closing():
                        conn.write(writer_frames.encode({"id": batch_id}))
            committer.replay_if_due()
            if stop.is_set() and not self._arrived:
                return
            await asyncio.sleep(0)  # let the readers take what came in meanwhile
