"""A worker's writer: batches go to the writer process and come back acknowledged.

If the writer process cannot be reached, a batch is spooled here instead (in a thread:
it fsyncs), so a click is never lost and never waits on a dead writer. A batch whose
acknowledgement never came is spooled too: it may then be recorded twice over, which
replay ignores (event ids are unique).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from config import ClickSettings
from redirector import writer_frames
from redirector.gathering import Batch, Gatherer
from redirector.hits import Hit, event_from_hit
from redirector.spool import Spool

log = logging.getLogger("trackway.writer")
RECONNECT_SECONDS = 1.0
ACK_SECONDS = 5.0


class RemoteWriter:
    def __init__(
        self, socket_path: Path, spool: Spool, clicks: ClickSettings, salt: bytes
    ) -> None:
        self.socket_path = socket_path
        self.spool = spool
        self.clicks = clicks
        self.salt = salt
        self._gatherer: Gatherer[Hit] = Gatherer(self._submit)
        self._conn: asyncio.StreamWriter | None = None
        self._out: dict[int, Batch[Hit]] = {}
        self._next_id = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._connector: asyncio.Task[None] | None = None

    async def connect(self, timeout: float) -> None:
        """Wait up to `timeout` for the writer process (it starts beside the workers)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not await self._try_connect():
            if asyncio.get_running_loop().time() > deadline:
                log.error("writer process not reachable at %s; spooling", self.socket_path)
                return
            await asyncio.sleep(0.05)

    def start(self) -> None:
        self._connector = asyncio.get_running_loop().create_task(self._keep_connected())

    async def record(self, hit: Hit) -> None:
        await self._gatherer.add(hit)

    async def close(self) -> None:
        while not self._gatherer.idle:
            await asyncio.sleep(0.005)
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        if self._conn is not None:
            self._conn.close()

    async def _try_connect(self) -> bool:
        try:
            reader, conn = await asyncio.open_unix_connection(str(self.socket_path))
        except OSError:
            return False
        self._conn = conn
        task = asyncio.get_running_loop().create_task(self._read_acks(reader, conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _keep_connected(self) -> None:
        while True:
            await asyncio.sleep(RECONNECT_SECONDS)
            if self._conn is None:
                await self._try_connect()

    def _submit(self, batch: Batch[Hit]) -> None:
        conn = self._conn
        if conn is None or conn.is_closing():
            self._spool_then_done(batch)
            return
        self._next_id += 1
        batch_id = self._next_id
        self._out[batch_id] = batch
        conn.write(writer_frames.encode(writer_frames.batch_message(batch_id, batch.items)))
        # A writer that is alive but stuck (a disk stall) must not hold clicks forever.
        asyncio.get_running_loop().call_later(ACK_SECONDS, self._ack_overdue, batch_id)

    def _ack_overdue(self, batch_id: int) -> None:
        batch = self._out.pop(batch_id, None)
        if batch is not None:
            log.warning("the writer took over %.0f s to commit; spooling the batch", ACK_SECONDS)
            self._spool_then_done(batch)

    async def _read_acks(self, reader: asyncio.StreamReader, conn: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(writer_frames.HEADER_BYTES)
                body = await reader.readexactly(writer_frames.body_length(header))
                batch = self._out.pop(int(writer_frames.decode(body)["id"]), None)
                if batch is not None:
                    self._gatherer.done(batch)
        except (asyncio.IncompleteReadError, ConnectionError, writer_frames.FrameError) as e:
            log.warning("lost the writer process (%s); spooling until it is back", e)
        finally:
            if self._conn is conn:
                self._conn = None
            conn.close()
            unanswered, self._out = list(self._out.values()), {}
            for batch in unanswered:
                self._spool_then_done(batch)

    def _spool_then_done(self, batch: Batch[Hit]) -> None:
        loop = asyncio.get_running_loop()

        async def spool() -> None:
            try:
                events = [event_from_hit(hit, self.clicks, self.salt) for hit in batch.items]
                await loop.run_in_executor(None, self.spool.append, events)
            except Exception:
                log.exception("could not spool %d events", len(batch.items))
            finally:
                self._gatherer.done(batch)  # whatever happened, no click waits forever

        task = loop.create_task(spool())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
