"""A worker's writer against a writer process that is gone or stuck: clicks still end."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from config import ClickSettings
from redirector import remote_writer
from redirector.hits import Hit
from redirector.remote_writer import RemoteWriter
from redirector.spool import Spool


def hit(recipient: str) -> Hit:
    return Hit(
        "00" + recipient,
        1.0,
        "click",
        "k",
        "m",
        recipient,
        0,
        "https://x.example/",
        0,
        "UA",
        "127.0.0.1",
    )


async def test_no_writer_process_spools(tmp_path: Path) -> None:
    writer = RemoteWriter(tmp_path / "absent.sock", Spool(tmp_path), ClickSettings(), b"s" * 32)
    await writer.connect(timeout=0.1)
    writer.start()
    await asyncio.wait_for(writer.record(hit("a")), 5)
    await writer.close()
    assert [e.recipient_id for e in Spool(tmp_path).read_all()] == ["a"]


async def test_a_stuck_writer_process_does_not_hold_clicks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote_writer, "ACK_SECONDS", 0.2)
    received: list[bytes] = []
    done = asyncio.Event()
    connections: list[asyncio.StreamWriter] = []

    async def never_ack(reader: asyncio.StreamReader, conn: asyncio.StreamWriter) -> None:
        connections.append(conn)
        received.append(await reader.read(65536))
        await done.wait()

    path = tmp_path / "stuck.sock"
    server = await asyncio.start_unix_server(never_ack, path=str(path))
    try:
        writer = RemoteWriter(path, Spool(tmp_path), ClickSettings(), b"s" * 32)
        await writer.connect(timeout=1)
        writer.start()
        await asyncio.wait_for(writer.record(hit("b")), 5)
        await writer.close()
    finally:
        done.set()
        for conn in connections:
            conn.close()
            await conn.wait_closed()
        server.close()
        await server.wait_closed()
    assert received  # it was sent, never acknowledged
    assert [e.recipient_id for e in Spool(tmp_path).read_all()] == ["b"]
