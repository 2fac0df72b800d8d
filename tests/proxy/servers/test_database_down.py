"""A database that is down or read-only: both servers keep answering clicks (over TLS
too), `/healthz` stays 200, `/metrics` shows the database's state and the spool's
backlog; once it is back, every answered click is stored, once."""

from __future__ import annotations

import asyncio
import ssl
import time
import urllib.request
from pathlib import Path

import psycopg

from tests.proxy.serve.test_connection_limits import free_port, served_certificate, tls_click
from tests.proxy.servers.pair import (
    FAST_RETRY,
    click,
    metric,
    pg_server,
    share_key_ring,
    signed,
    stored,
    wait_until,
)
from tests.support.postgres import PostgresCluster
from tests.support.server_process import ServerProcess

HOST = "links.example.com"


def healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/healthz", timeout=10) as resp:  # noqa: S310
        return bool(resp.status == 200)


def tls_clicks(port: int, tokens: list[tuple[str, str]], client: ssl.SSLContext) -> list[int]:
    async def all_of_them() -> list[int]:
        statuses = [await tls_click(port, token, client) for _, token in tokens]
        await asyncio.sleep(0.2)  # the connections' closing done before the loop ends
        return statuses

    return asyncio.run(all_of_them())


def click_each(servers: list[ServerProcess], tokens: list[tuple[str, str]]) -> list[str]:
    """Clicks spread over the servers in turn; the recipients answered with a redirect."""

    async def all_of_them() -> list[str]:
        answered = []
        for i, (recipient, token) in enumerate(tokens):
            if await click(servers[i % len(servers)].url, token) == 302:
                answered.append(recipient)
        return answered

    return asyncio.run(all_of_them())


def test_a_database_down_for_a_while_loses_nothing(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    share_key_ring(a, b)
    before = signed(a, [f"p{i}" for i in range(10)])
    during = signed(a, [f"d{i}" for i in range(60)])
    tls = signed(a, ["t0", "t1"])
    client = served_certificate(a, HOST)
    https = free_port()
    with PostgresCluster() as cluster:  # its own: stopped by this test
        url = cluster.new_database()
        env = {**FAST_RETRY, "TRACKWAY_STORE_URL": url}
        with (
            ServerProcess(a, "--https", f"127.0.0.1:{https}", env=env) as server_a,
            pg_server(b, url) as server_b,
        ):
            servers = [server_a, server_b]
            assert click_each(servers, before) == [r for r, _ in before]
            wait_until(lambda: len(stored(url)) == 10, 20, "loaded before")
            wait_until(lambda: metric(server_a, "trackway_store_up") == 1, 10, "up")
            assert (metric(server_a, "trackway_store_last_load_timestamp_seconds") or 0) > 0

            cluster.stop()
            answered = click_each(servers, during)
            assert answered == [r for r, _ in during]  # every click answered meanwhile
            assert tls_clicks(https, tls, client) == [302, 302]  # TLS needs no database
            for server in servers:
                assert healthy(server.url)
                assert healthy(server.admin_url)
                wait_until(lambda s=server: metric(s, "trackway_store_up") == 0, 15, "down")  # type: ignore[misc]

            def backlog() -> float:
                return sum(metric(s, "trackway_store_backlog_events") or 0 for s in servers)

            wait_until(lambda: backlog() == len(during) + len(tls), 10, "the backlog counted")

            cluster.restart()
            every = {r for r, _ in [*before, *during, *tls]}
            wait_until(lambda: {r[1] for r in stored(url)} == every, 30, "caught up")
            for server in servers:
                wait_until(lambda s=server: metric(s, "trackway_store_up") == 1, 15, "up")  # type: ignore[misc]
                wait_until(
                    lambda s=server: metric(s, "trackway_store_backlog_events") == 0,  # type: ignore[misc]
                    15,
                    "no backlog",
                )
        rows = stored(url)
        assert len(rows) == len({r[0] for r in rows}) == len(every)  # each once


def test_a_read_only_database_keeps_clicks_in_the_spool(tmp_path: Path, postgres_url: str) -> None:
    a = tmp_path / "a"
    tokens = signed(a, [f"r{i}" for i in range(20)])
    cluster, _, database = postgres_url.rpartition("/")

    def read_only(on: bool) -> None:
        # From another database: this one's sessions are read-only once it is set.
        with psycopg.connect(f"{cluster}/postgres", autocommit=True) as conn:
            value = "on" if on else "off"
            conn.execute(
                f'ALTER DATABASE "{database}" SET default_transaction_read_only = {value}'
            )
            conn.execute(  # its sessions start again, as the setting says
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )

    with pg_server(a, postgres_url) as server:
        wait_until(lambda: metric(server, "trackway_store_up") == 1, 10, "up")
        read_only(True)
        assert click_each([server], tokens[:10]) == [f"r{i}" for i in range(10)]
        wait_until(lambda: metric(server, "trackway_store_up") == 0, 15, "refusing writes")
        assert healthy(server.url)
        assert healthy(server.admin_url)
        wait_until(lambda: metric(server, "trackway_store_backlog_events") == 10, 10, "backlog")
        time.sleep(0.5)
        assert stored(postgres_url) == []

        read_only(False)
        assert click_each([server], tokens[10:]) == [f"r{i}" for i in range(10, 20)]
        wait_until(lambda: len(stored(postgres_url)) == 20, 30, "caught up")
        wait_until(lambda: metric(server, "trackway_store_backlog_events") == 0, 15, "none")
