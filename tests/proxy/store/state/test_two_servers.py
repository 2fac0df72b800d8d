"""Two `serve` processes with their own data folders on one PostgreSQL database: a link
rewritten with one's CLI redirects on the other; a key rotated on one signs and verifies
on the other, one retired there is refused by the other, within seconds; a domain added
on one is the other's too (`domains status`), its proxied host forwarded by the other's
workers; a server started while the database is down serves with its mirror and
catches up once it is back."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from redirector import load_keyring
from redirector.links.keystore import read_keyring
from tests.proxy.serve.test_serve_proxy import HOST, Upstream, get, upstream
from tests.support.challtestsrv import free_port
from tests.support.postgres import PostgresCluster
from tests.support.server_process import ServerProcess

__all__ = ["upstream"]  # the fixture, used here

LINK = re.compile(r"http://127\.0\.0\.1:\d+/c/[A-Za-z0-9_-]+")
REGION = "t.example.net"
SECONDS = 15  # "within seconds": the mirror's poll (1 s) and the workers' reload (2 s)


def settings_file(tmp_path: Path) -> Path:
    config = tmp_path / "trackway.toml"
    config.write_text(
        '[regions]\nus = "t.example.net"\n'
        f'[dns]\nnameservers = ["127.0.0.1:{free_port()}"]\ntimeout = 0.5\n'  # nothing answers
        '[checks]\nallowed_networks = ["127.0.0.0/8"]\ntimeout = 2\n'
    )
    return config


class Server:
    """One of the servers: its data folder, its CLI, its `serve`."""

    def __init__(self, data: Path, config: Path, url: str) -> None:
        self.data, self.config, self.url = data, config, url
        self.env = {"TRACKWAY_STORE_URL": url}

    def serve(self) -> ServerProcess:
        return ServerProcess(self.data, "--config", str(self.config), workers=2, env=self.env)

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("TRACKWAY_")}
        done = subprocess.run(
            [sys.executable, "-m", "proxy.cli", *args, "--data", str(self.data),
             "--config", str(self.config)],
            input=stdin, capture_output=True, text=True, env={**clean, **self.env},
            timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    def link(self, base_url: str) -> str:
        """A link rewritten with this server's CLI, to `base_url`."""
        body = '<a href="https://example.com/landing">go</a>'
        out = self.cli("rewrite", "-", "--base-url", base_url, stdin=body).stdout
        found = LINK.search(out)
        assert found, out
        return found.group(0)


def status_of(link: str) -> int:
    """Asked with the region's host (ours): a link refused is 404 (elsewhere: 421)."""
    port = int(link.split(":")[2].split("/")[0])
    return get(port, link.split(str(port), 1)[1], host=REGION)[0]


def admin_get(server: ServerProcess, path: str) -> tuple[int, bytes]:
    token = (server.data / "admin-token").read_text().strip()
    conn = http.client.HTTPConnection("127.0.0.1", server.ports["admin"], timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def until(check: Callable[[], bool], seconds: float = SECONDS) -> float:
    """Seconds it took for `check` to hold."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, "not in time"
        time.sleep(0.1)
    return time.monotonic() - start


def test_two_servers_share_keys_and_domains(
    tmp_path: Path, postgres_url: str, upstream: Upstream
) -> None:
    config = settings_file(tmp_path)
    one = Server(tmp_path / "one", config, postgres_url)
    two = Server(tmp_path / "two", config, postgres_url)
    load_keyring(two.data, int(time.time()))  # the second has a ring of its own
    own = (two.data / "keys.json").read_bytes()
    with one.serve() as first, two.serve() as second:
        # The first seeded the database with its ring; the second adopted it.
        assert read_keyring(two.data).keys == read_keyring(one.data).keys
        (kept,) = two.data.glob("keys.json.local-*")
        assert kept.read_bytes() == own  # kept aside, nothing lost
        # A domain check made by one may be answered by the other: one secret.
        assert (one.data / "check-secret").read_bytes() == (two.data / "check-secret").read_bytes()
        old_link = one.link(second.url)
        assert status_of(old_link) == 302

        old = read_keyring(one.data).signing_key
        one.cli("keys", "rotate")
        new = read_keyring(one.data).signing_key
        assert new != old
        new_link = one.link(second.url)
        took = {"rotated: accepted": until(lambda: status_of(new_link) == 302)}
        took["rotated: signing"] = until(lambda: read_keyring(two.data).signing_key == new)
        # The rotating server's own workers too follow their keys.json within seconds.
        from_two = two.link(first.url)
        took["rotated: accepted here"] = until(lambda: status_of(from_two) == 302)

        one.cli("keys", "retire", old.key_id)
        took["retired: refused"] = until(lambda: status_of(old_link) == 404)
        assert status_of(new_link) == 302
        listed = json.loads(two.cli("keys", "list", "--json").stdout)
        assert [k["status"] for k in listed] == ["retired", "signing"]

        second_port = second.ports["public"]
        one.cli("domains", "add", "example.com", HOST)
        shown = json.loads(two.cli("domains", "status", "example.com", "--json").stdout)
        assert [h["host"] for h in shown["hosts"]] == [HOST]
        until(lambda: get(second_port, "/x")[0] == 404)  # the other's host now: redirect mode
        one.cli("domains", "proxy", HOST, "--upstream",
                f"http://127.0.0.1:{upstream.server_address[1]}")  # fmt: skip
        took["proxied: forwarded"] = until(
            lambda: all(get(second_port, "/p?a=1") == (200, b"upstream") for _ in range(6))
        )
        print("seconds until the other server follows:", took)
        assert upstream.seen[-1] == ("/p?a=1", HOST)
        for server in (first, second):
            server.signal_parent(signal.SIGTERM)
            assert server.wait() == 0
    assert "postgresql://" not in "".join(first.output + second.output)


def test_a_server_started_while_the_database_is_down_serves_with_its_mirror(
    tmp_path: Path, upstream: Upstream
) -> None:
    config = settings_file(tmp_path)
    forwarded = (200, b"upstream")
    with PostgresCluster() as cluster:
        url = cluster.new_database()
        one, two = Server(tmp_path / "one", config, url), Server(tmp_path / "two", config, url)
        with one.serve():
            token_path = urlsplit(one.link("http://127.0.0.1:1")).path
            one.cli("domains", "add", "example.com", HOST)
            one.cli("domains", "proxy", HOST, "--upstream",
                    f"http://127.0.0.1:{upstream.server_address[1]}")  # fmt: skip
        with two.serve() as second:  # its mirrors: the database's ring and domains
            until(lambda: get(second.ports["public"], "/p")[0] == forwarded[0])
        cluster.stop()
        with two.serve() as second:  # the database down
            port = second.ports["public"]
            assert get(port, token_path, host=REGION)[0] == 302
            assert get(port, "/p") == forwarded
            assert admin_get(second, "/metrics")[0] == 200  # without the domains' gauges
            cluster.restart()
            one.cli("keys", "rotate")
            one.cli("keys", "retire", read_keyring(one.data).keys[0].key_id)
            took = until(lambda: get(port, token_path, host=REGION)[0] == 404, seconds=60)
            assert took < 60  # caught up (the retries back off to at most 30 s)
            second.signal_parent(signal.SIGTERM)
            assert second.wait() == 0
            assert second.proc is not None
            assert second.proc.stdout is not None
            log = "".join(second.output) + second.proc.stdout.read()
    assert log.count("mirrors: not in step with the database") == 1
    assert "mirrors: in step with the database again" in log
