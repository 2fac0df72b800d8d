"""Domain pages and routes wait for a locked domains.db in a thread pool of their own:
`/healthz` and `/metrics` on the same admin listener answer meanwhile (review finding:
they read SQLite with its 5 s busy timeout on the supervisor's loop)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from config import Settings
from proxy.data_folder import admin_token
from proxy.domains.service import open_domain_service
from proxy.domains.store import DOMAINS_FILE
from tests.proxy.admin_web.test_pages import Client, admin, log_in, web_settings

__all__ = ["admin", "web_settings"]  # the fixtures

PROMPT = 1.0  # seconds: far below the lock's hold, far above an idle answer


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another connection holds the database's write lock (BEGIN IMMEDIATE) until the
    block ends."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(30)
        conn.execute("ROLLBACK")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join()


async def test_health_and_metrics_answer_while_domain_calls_wait(
    admin: Client, web_settings: Settings
) -> None:
    csrf = await log_in(admin, web_settings)
    with open_domain_service(web_settings):
        pass  # domains.db made
    bearer = {"Authorization": f"Bearer {admin_token(web_settings.data)}"}
    with write_lock_held(web_settings.data / DOMAINS_FILE):
        page = asyncio.create_task(
            admin.post(
                "/ui/domains", data={"csrf": csrf, "domain": "example.com"}, allow_redirects=False
            )
        )
        api = asyncio.create_task(
            admin.post("/api/domains", json={"domain": "example.org"}, headers=bearer)
        )
        await asyncio.sleep(0.5)
        assert not page.done()  # it waits for the lock
        assert not api.done()
        for path in ("/healthz", "/metrics", "/healthz"):
            started = time.monotonic()
            resp = await asyncio.wait_for(admin.get(path), 10)
            took = time.monotonic() - started
            assert resp.status == 200, path
            assert took < PROMPT, (path, took)
        assert not page.done()
        assert not api.done()
    # The lock gone, the writes go through.
    assert (await asyncio.wait_for(page, 10)).status == 303
    assert (await asyncio.wait_for(api, 10)).status == 201
    listed = await (await admin.get("/api/domains", headers=bearer)).json()
    assert sorted(d["domain"] for d in listed["domains"]) == ["example.com", "example.org"]
