"""A worker with a low fd limit under idle and slow connections on both paths, and
silent TLS connections: clicks keep being served (the connection cap), and every such
connection is closed in time (the deadlines)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
import time
import urllib.request
from pathlib import Path

import pytest
import trustme

from certs.store import CertState, CertStore
from redirector import Claims, load_keyring, sign
from tests.support.clicks import LONG_AGO
from tests.support.raw_http import HOLDERS, Stream, connect, get, response, seconds_until_closed
from tests.support.server_process import ServerProcess

FD_LIMIT = 200


def click_tokens(data: Path, count: int) -> list[str]:
    ring = load_keyring(data, int(time.time()))
    claims = [Claims(f"https://example.com/{i}", "m", f"r{i}", 0, LONG_AGO) for i in range(count)]
    return [sign(c, ring.signing_key) for c in claims]


async def open_holders(port: int, count: int) -> list[Stream]:
    """`count` connections, in turn of every shape that holds a slot (answers unread)."""
    held = []
    shapes = list(HOLDERS.values())
    for i in range(count):
        with contextlib.suppress(OSError, TimeoutError):
            reader, writer = await connect(port)
            writer.write(shapes[i % len(shapes)].first)
            held.append((reader, writer))
    return held


async def click(port: int, token: str) -> int:
    try:
        reader, writer = await connect(port)
    except (OSError, TimeoutError):
        return 0
    try:
        writer.write(get(f"/c/{token}"))
        return (await response(reader))[0]
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        return 0  # reset, closed or unanswered
    finally:
        writer.close()


def closed_by_the_server(admin_url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{admin_url}/metrics", timeout=5) as resp:  # noqa: S310
        text = resp.read().decode()
    found = re.findall(r'trackway_connections_closed_total\{reason="(\w+)"\} (\S+)', text)
    return {reason: float(value) for reason, value in found}


def test_clicks_are_served_through_a_flood_of_idle_and_slow_connections(tmp_path: Path) -> None:
    data = tmp_path / "data"
    tokens = click_tokens(data, 20)

    async def flood_then_click(port: int) -> list[int]:
        held = await open_holders(port, 500)  # more than the worker has descriptors
        statuses = [await click(port, token) for token in tokens]
        for _, writer in held:
            writer.close()
        return statuses

    with ServerProcess(data, fd_limit=FD_LIMIT) as server:
        statuses = asyncio.run(asyncio.wait_for(flood_then_click(server.ports["public"]), 120))
        assert statuses == [302] * len(tokens)
        assert closed_by_the_server(server.admin_url).get("cap", 0) > 0


def test_idle_and_slow_connections_are_closed_at_their_deadlines(tmp_path: Path) -> None:
    deadlines = {"idle": 2.0, "head": 1.0, "body": 1.0}
    env = {f"TRACKWAY_SERVER_{name.upper()}_SECONDS": str(s) for name, s in deadlines.items()}

    async def hold_all(port: int) -> list[float]:
        held = await open_holders(port, 10 * len(HOLDERS))  # fewer than the cap
        try:
            return await asyncio.gather(*(seconds_until_closed(r, 30) for r, _ in held))
        finally:
            for _, writer in held:
                writer.close()

    with ServerProcess(tmp_path / "data", fd_limit=FD_LIMIT, env=env) as server:
        lasted = asyncio.run(hold_all(server.ports["public"]))
        assert len(lasted) == 10 * len(HOLDERS)
        assert max(lasted) < max(deadlines.values()) + 15
        closed = closed_by_the_server(server.admin_url)
    expected = {name: 0 for name in deadlines}
    for holder in HOLDERS.values():
        expected[holder.deadline] += 10
    assert {name: closed.get(name, 0) for name in deadlines} == expected
    assert closed.get("cap", 0) == 0


def served_certificate(data: Path, host: str) -> ssl.SSLContext:
    """`host`'s certificate in the data folder; a client context that trusts it."""
    issued = (ca := trustme.CA()).issue_cert(host)
    chain = b"".join(blob.bytes() for blob in issued.cert_chain_pems)
    CertStore(data).save(host, chain, issued.private_key_pem.bytes(), CertState(host))
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def tls_click(port: int, token: str, context: ssl.SSLContext) -> int:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                "127.0.0.1", port, ssl=context, server_hostname="links.example.com"
            ),
            5,
        )
    except (OSError, TimeoutError):
        return 0
    try:
        writer.write(get(f"/c/{token}"))
        return (await response(reader))[0]
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        return 0
    finally:
        writer.close()


@pytest.mark.parametrize("challenge", ["http-01", "tls-alpn-01"])  # either TLS listener
def test_clicks_are_served_through_a_flood_of_silent_tls_connections(
    tmp_path: Path, challenge: str
) -> None:
    data = tmp_path / "data"
    tokens = click_tokens(data, 10)
    client = served_certificate(data, "links.example.com")
    https = free_port()

    async def flood_then_click(http: int) -> list[int]:
        held = []
        for _ in range(250):  # more than the worker has descriptors; no ClientHello
            with contextlib.suppress(OSError, TimeoutError):
                held.append(await connect(https))
        statuses = [await click(http, token) for token in tokens[:5]]
        statuses += [await tls_click(https, token, client) for token in tokens[5:]]
        for _, writer in held:
            writer.close()
        return statuses

    env = {"TRACKWAY_ACME_CHALLENGE": challenge}
    with ServerProcess(
        data, "--https", f"127.0.0.1:{https}", fd_limit=FD_LIMIT, env=env
    ) as server:
        statuses = asyncio.run(asyncio.wait_for(flood_then_click(server.ports["public"]), 120))
        assert statuses == [302] * len(tokens)
        assert closed_by_the_server(server.admin_url).get("cap", 0) > 0
