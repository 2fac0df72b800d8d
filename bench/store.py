"""Loading events: the loader into PostgreSQL against the loader into SQLite, one run.

    scripts/setup test   # Debian's postgresql, psycopg
    .venv/bin/python bench/store.py [--events 200000] [--statements 20000] [--seconds 10]

Spools `--events` clicks (as the workers do), then times `SpoolLoader.load_all` (the
writer process's loader: read the spool, find bursts, write batches) into a throwaway
PostgreSQL cluster of its own (fsync and synchronous commits on, as in production) and
into SQLite (`synchronous = full`, the default); and into PostgreSQL beside another
server's loads (a loader alone leaves bursts to its tracker; beside another one, it
looks up every client of a batch among the stored hits). Then, the store's statements alone
(no spool): binary COPY against psycopg's `executemany` into the events table. The last line is
`postgresql_events_per_s=<n> postgresql_shared_events_per_s=<n> sqlite_events_per_s=<n>
ratio_postgresql_vs_sqlite=<n>`.
Target (issue 14): PostgreSQL at least 50k events/s.

The 2-server click run (`--seconds`, 0: none): two `trackway serve` processes (a worker
each, separate data folders, one database, default settings) clicked by `wrk` for that
long, then the time until the database holds every event the servers made durable in
their spools (`trackway_events_written{to="spool"}`). Target: within 10 s of the load's
end. Its line: `two_servers_clicks=<n> clicks_per_s=<n> catch_up_s=<n> load_priority=<p>`.
With `--priority idle` (the default setting) a loader takes a tenth of a CPU while the
clicks keep the CPUs busy, and loads at full speed once they stop (no spool write for a
second); `--priority normal` keeps up during the load.

Measured here (psycopg 3.3.9, PostgreSQL 15.18, the shared 2-core machine at a load
average of 0.7-1.2, 2026-12-04; `bench/store.py`, 200,000 events): the loader into
PostgreSQL 72,602 events/s, beside another server's loads 56,576, into SQLite 57,982;
binary COPY alone 178,194 rows/s against 43,992 by `executemany`; the 2-server run
259,333 clicks in 10 s, all in the database 3.43 s after the load ended. With
`--statements 0 --seconds 0`, twice: 56,561 and 62,859 (beside another: 49,589 and
45,120), SQLite 54,113 and 50,666. Before the COPY went straight into `events` and the
loader paused the cyclic garbage collector during a batch: 35,403 and 31,959 with
`--events 100000 --statements 0 --seconds 0` at a load average of 3.2.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import ClickSettings
from proxy.store.event_store import PostgresEventStore
from redirector import load_keyring
from redirector.links.tokens import Claims, sign
from redirector.recording.bot_rules import BurstPolicy
from redirector.recording.event_store import EventStore, SqliteEventStore
from redirector.recording.events import COLUMNS, new_event_id
from redirector.recording.hits import Hit, event_from_hit
from redirector.recording.spool import Spool, encode_hits
from redirector.recording.spool_loader import SpoolLoader
from tests.support.postgres import PostgresCluster
from tests.support.server_process import ServerProcess

SALT = b"b" * 32
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"
)


def hits(count: int) -> list[Hit]:
    now = time.time()
    return [_hit(i, now) for i in range(count)]


def _hit(i: int, now: float) -> Hit:
    claims = Claims(
        f"https://shop.example.com/item/{i % 40}?utm_source=email", f"msg-{i % 500}",
        f"rcpt-{i}", i % 40, int(now) - 3600, key_id="0a0b0c0d",
    )  # fmt: skip
    # A client per recipient, as most clicks are: the burst tracker's usual load.
    address = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
    return Hit(new_event_id(), now, "click", UA, address, claims)


def spool_folder(folder: Path, spooled: list[Hit]) -> Spool:
    spool = Spool(folder, sync=False)
    for start in range(0, len(spooled), 200):  # workers' batches
        spool.append_encoded(encode_hits(spooled[start : start + 200]))
    spool.release()
    settings = ClickSettings()
    return Spool(folder, to_event=lambda hit: event_from_hit(hit, settings, SALT))


def load_rate(folder: Path, spooled: list[Hit], open_store: Callable[[], EventStore]) -> float:
    """Events per second through the loader; PostgreSQL's store as a server opens it
    (with its burst policy: bursts looked up across servers)."""
    loader = SpoolLoader(open_store, spool_folder(folder, spooled), BurstPolicy(3, 10), 1.0)
    loader.store.get()  # opened (and migrated) before the clock starts
    started = time.perf_counter()
    loader.load_all()
    elapsed = time.perf_counter() - started
    loader.close()
    if loader.spool.count():
        raise SystemExit(f"the loader left {loader.spool.count()} events in {folder}")
    return len(spooled) / elapsed


def another_server_loaded(url: str, spooled: list[Hit], burst: BurstPolicy) -> None:
    """A hit of another client, at the spooled hits' time, loaded by another store."""
    other = PostgresEventStore(url, burst=burst)
    other.write_batch([event_from_hit(_hit(len(spooled), spooled[0].time), ClickSettings(), SALT)])
    other.close()


def statement_rates(cluster: PostgresCluster, count: int) -> tuple[float, float]:
    """Rows per second into the events table, the store's way (binary COPY) and by
    psycopg's `executemany` (INSERT ... ON CONFLICT DO NOTHING a row, pipelined by
    psycopg), each into a new database."""
    folder = Path(tempfile.mkdtemp(prefix="trackway-bench-"))
    try:
        events = list(spool_folder(folder, hits(count)).read_all())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    store = PostgresEventStore(cluster.new_database())
    store.write_batch(events[:1])  # its month's partition made, as in a running server
    started = time.perf_counter()
    store.write_batch(events[1:])
    copy = (count - 1) / (time.perf_counter() - started)
    store.close()
    url = cluster.new_database()
    store = PostgresEventStore(url)
    store.write_batch(events[:1])  # the schema and the partition, as above
    store.close()
    marks = ", ".join(["%s"] * len(COLUMNS))
    sql = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({marks}) ON CONFLICT DO NOTHING"
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        started = time.perf_counter()
        cursor.executemany(sql, [e.storable_values() for e in events[1:]])
        conn.commit()
        many = (count - 1) / (time.perf_counter() - started)
    return copy, many


def two_servers(root: Path, url: str, seconds: float, priority: str) -> tuple[int, float]:
    """Clicks made durable by two servers under `wrk` for `seconds`; the seconds from
    the load's end until the database holds them all."""
    a, b = root / "a", root / "b"
    ring = load_keyring(a, int(time.time()))
    b.mkdir(mode=0o700)
    shutil.copy2(a / "keys.json", b / "keys.json")  # one ring (the database's comes later)
    token = sign(Claims("https://shop.example.com/", "msg", "rcpt", 0, 1_700_000_000),
                 ring.signing_key)  # fmt: skip
    env = {"TRACKWAY_STORE_URL": url, "TRACKWAY_STORE_LOAD_PRIORITY": priority}
    with ServerProcess(a, env=env) as one, ServerProcess(b, env=env) as two:
        loads = [
            subprocess.Popen(
                ["wrk", "-t1", "-c32", f"-d{seconds:g}s", f"{s.url}/c/{token}"],
                stdout=subprocess.PIPE,
                text=True,
            )
            for s in (one, two)
        ]
        outputs = [load.communicate(timeout=seconds + 60)[0] for load in loads]
        ended = time.monotonic()
        for output in outputs:
            print("wrk:", " ".join(output.split("\n")[-4:-1]).strip())
        time.sleep(0.2)  # answers in flight as wrk stopped
        durable = sum(_spooled(s.admin_url) for s in (one, two))
        while _stored(url) < durable:
            if time.monotonic() - ended > 120:
                raise SystemExit(f"the database has {_stored(url)} of {durable} events")
            time.sleep(0.05)
        return durable, time.monotonic() - ended


def _spooled(admin_url: str) -> int:
    with urllib.request.urlopen(f"{admin_url}/metrics", timeout=10) as resp:  # noqa: S310
        text = resp.read().decode()
    found = re.search(r'^trackway_events_written_total\{to="spool"\} (\S+)$', text, re.M)
    return int(float(found.group(1))) if found else 0


def _stored(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument(
        "--statements", type=int, default=20_000, help="rows for COPY vs executemany; 0: skip"
    )
    parser.add_argument(
        "--seconds", type=float, default=10, help="the 2-server click run's load; 0: skip"
    )
    parser.add_argument(
        "--priority",
        choices=("idle", "normal"),
        default="idle",
        help="the servers' [store] load_priority (idle: the default)",
    )
    args = parser.parse_args()
    spooled = hits(args.events)
    root = Path(tempfile.mkdtemp(prefix="trackway-bench-"))
    try:
        with PostgresCluster(durable=True) as cluster:
            url = cluster.new_database()
            burst = BurstPolicy(3, 10)
            pg = load_rate(root / "pg", spooled, lambda: PostgresEventStore(url, burst=burst))
            # A database another server loads into too: every client of a batch is looked
            # up among the stored hits (alone, a loader skips that: its tracker knows).
            shared = cluster.new_database()
            another_server_loaded(shared, spooled, burst)
            pg_shared = load_rate(
                root / "pg-shared", spooled, lambda: PostgresEventStore(shared, burst=burst)
            )
            sqlite = load_rate(
                root / "sqlite", spooled, lambda: SqliteEventStore(root / "sqlite" / "t.db")
            )
            print(f"loader into PostgreSQL (binary COPY): {pg:,.0f} events/s")
            print(f"the same beside another server's loads: {pg_shared:,.0f} events/s")
            print(f"loader into SQLite (synchronous full): {sqlite:,.0f} events/s")
            if args.statements:
                copy, many = statement_rates(cluster, args.statements)
                print(
                    f"{args.statements} rows into events alone: binary COPY "
                    f"{copy:,.0f}/s, executemany {many:,.0f}/s (ratio {copy / many:.2f})"
                )
            if args.seconds:
                clicks, catch_up = two_servers(
                    root, cluster.new_database(), args.seconds, args.priority
                )
                print(
                    f"two_servers_clicks={clicks} clicks_per_s={clicks / args.seconds:.0f} "
                    f"catch_up_s={catch_up:.2f} load_priority={args.priority}"
                )
        print(
            f"postgresql_events_per_s={pg:.0f} postgresql_shared_events_per_s={pg_shared:.0f} "
            f"sqlite_events_per_s={sqlite:.0f} "
            f"ratio_postgresql_vs_sqlite={pg / sqlite:.2f}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
