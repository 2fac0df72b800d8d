"""Two `serve` processes, separate data folders, one PostgreSQL database: clicks on
both are stored once and exported by either, a burst spread over both is marked, and
a server killed under load loses no answered click once it is started again."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.proxy.serve.test_serve import click_all, load_then
from tests.proxy.servers.pair import (
    click,
    export,
    pg_server,
    share_key_ring,
    signed,
    stored,
    wait_until,
)


def test_clicks_on_both_are_stored_once_and_a_burst_across_them_is_marked(
    tmp_path: Path, postgres_url: str
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    share_key_ring(a, b)
    on_a = signed(a, [f"a{i}" for i in range(80)], link=lambda i: i % 2)
    on_b = signed(a, [f"b{i}" for i in range(80)], link=lambda i: i % 2)
    # One client (every click comes from 127.0.0.1), three links of one message, on
    # A, then B, then A: neither server's loader sees three links by itself.
    burst = signed(a, ["x0", "x1", "x2"], message="burst", link=lambda i: i)
    with pg_server(a, postgres_url) as server_a, pg_server(b, postgres_url) as server_b:
        # The servers hash clients with one salt: the database's (B took A's).
        assert (a / "client-salt").read_bytes() == (b / "client-salt").read_bytes()
        answered: list[str] = []

        async def both() -> None:
            await asyncio.gather(
                click_all(server_a.url, on_a, answered), click_all(server_b.url, on_b, answered)
            )

        asyncio.run(both())
        assert len(answered) == 160
        wait_until(lambda: len(stored(postgres_url)) == 160, 20, "both servers' clicks loaded")

        for server, (recipient, token) in zip((server_a, server_b, server_a), burst, strict=True):
            assert asyncio.run(click(server.url, token)) == 302
            wait_until(
                lambda r=recipient: r in {row[1] for row in stored(postgres_url)},  # type: ignore[misc]
                20,
                f"{recipient} loaded",
            )

        rows = stored(postgres_url)
        marked = {r[1]: (r[2], r[3]) for r in rows if r[1].startswith("x")}
        assert marked == {f"x{i}": (1, "burst") for i in range(3)}
        assert not [r for r in rows if not r[1].startswith("x") and r[2]]  # no one else

        for folder in (a, b):  # either server exports every event, once
            events = export(folder, postgres_url)
            assert len({e["id"] for e in events}) == len(events) == 163
            assert {str(e["recipient_id"]) for e in events} == set(answered) | set(marked)
            assert all(e["bot"] for e in events if str(e["recipient_id"]).startswith("x"))


def test_sigkill_of_one_under_load_loses_no_answered_click(
    tmp_path: Path, postgres_url: str
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    share_key_ring(a, b)
    on_a = signed(a, [f"a{i}" for i in range(300)])
    on_b = signed(a, [f"b{i}" for i in range(3000)])
    answered_a: list[str] = []
    answered_b: list[str] = []
    with pg_server(a, postgres_url) as server_a:
        with pg_server(b, postgres_url, workers=2) as server_b:

            async def load() -> None:
                kill = lambda: server_b.signal_all(signal.SIGKILL)  # noqa: E731
                await asyncio.gather(
                    click_all(server_a.url, on_a, answered_a),
                    load_then(server_b.url, on_b, answered_b, 300, kill),
                )

            asyncio.run(load())
            server_b.wait()
        assert len(answered_a) == len(on_a)
        assert 300 <= len(answered_b) < len(on_b)
        with pg_server(b, postgres_url):  # started again: its spool is loaded
            expected = set(answered_a) | set(answered_b)
            wait_until(
                lambda: expected <= {r[1] for r in stored(postgres_url)},
                30,
                "every answered click in the database",
            )
    rows = stored(postgres_url)
    assert len({r[0] for r in rows}) == len(rows)  # each event once
    assert len({r[1] for r in rows}) == len(rows)  # a click a recipient: none twice
