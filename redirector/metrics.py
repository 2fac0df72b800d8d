"""Prometheus metrics of the click path, made when a process first uses them.

`trackway serve` runs several processes: each calls `share_in(folder)` as it starts, so
that its values go to files there and the admin listener adds every process's up. Any
other process (the CLI, tests, an application embedding the click path) keeps them in
memory. No metric exists at import time, so nothing depends on what was imported first
(prometheus_client's own switch is an environment variable read when it is imported).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client import multiprocess as shared
from prometheus_client.metrics_core import Metric

_MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"  # where prometheus_client writes shared values


class Instruments:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "trackway_requests", "Requests answered", ["route", "status"], registry=registry
        )
        self.bad_requests = Counter(
            "trackway_bad_requests",
            "Malformed requests answered with an error, by what was wrong",
            ["reason"],
            registry=registry,
        )
        self.connections_closed = Counter(
            "trackway_connections_closed",
            "Public connections closed by the server: past a deadline (idle, head, body)"
            " or to make room at the connection cap (cap)",
            ["reason"],
            registry=registry,
        )
        self.events_written = Counter(
            "trackway_events_written",
            "Events made durable: to the spool (before the answer), then to the database",
            ["to"],
            registry=registry,
        )
        self.spool_events = Gauge(
            "trackway_spool_events",
            "Events waiting in the spool",
            multiprocess_mode="max",
            registry=registry,
        )
        # The database's state, as the loader (the writer process) sees it: the one
        # process that writes to it, so the most recent value of a live process.
        self.store_up = Gauge(
            "trackway_store_up",
            "1 if the last load into the database (or, with nothing to load, a look at "
            "it) worked; 0 while it is down or refuses writes (clicks wait in the spool)",
            multiprocess_mode="livemostrecent",
            registry=registry,
        )
        self.store_backlog_events = Gauge(
            "trackway_store_backlog_events",
            "Events in the spool not loaded into the database yet",
            multiprocess_mode="livemostrecent",
            registry=registry,
        )
        self.store_last_load = Gauge(
            "trackway_store_last_load_timestamp_seconds",
            "When events were last loaded into the database (unix time; 0: not yet)",
            multiprocess_mode="mostrecent",
            registry=registry,
        )
        self.write_batch_seconds = Histogram(
            "trackway_write_batch_seconds",
            "Time to make one batch of events durable (what its clicks wait for)",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0),
            registry=registry,
        )
        self.write_batch_size = Histogram(
            "trackway_write_batch_events",
            "Events in one durable batch",
            buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
            registry=registry,
        )
        self.events_not_durable = Gauge(
            "trackway_events_not_durable",
            "Events whose clicks were answered while they are held in memory: the spool "
            "could not be written (or took over 5 s); lost if their process dies",
            multiprocess_mode="livesum",
            registry=registry,
        )
        self.events_lost = Counter(
            "trackway_events_lost",
            "Events whose clicks were answered but which were never made durable: held in "
            "memory past its cap (the oldest dropped), or still held when their process "
            "stopped",
            registry=registry,
        )
        self.spool_damaged_bytes = Counter(
            "trackway_spool_damaged_bytes",
            "Bytes of spool files skipped as damaged (the good records around them loaded)",
            registry=registry,
        )
        self.spool_damaged_files = Counter(
            "trackway_spool_damaged_files",
            "Spool files found damaged (moved to spool/damaged/ once loaded and let go)",
            registry=registry,
        )
        self.load_batch_seconds = Histogram(
            "trackway_load_batch_seconds",
            "Time to load one batch of spooled events into the database",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
            registry=registry,
        )
        self.proxy_requests = Counter(
            "trackway_proxy_requests",
            "Requests to proxied hosts answered, by host and status (the upstream's, or "
            "trackway's own 413, 502, 504)",
            ["host", "status"],
            registry=registry,
        )
        self.proxy_upstream_errors = Counter(
            "trackway_proxy_upstream_errors",
            "Forwarded requests that failed, by host and reason (refused, dns, tls, "
            "broken, connect_timeout, read_timeout)",
            ["host", "reason"],
            registry=registry,
        )
        self.proxy_upstream_seconds = Histogram(
            "trackway_proxy_upstream_seconds",
            "Time from forwarding a request to its upstream's answer's head",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=registry,
        )


_instruments: Instruments | None = None
_shared_folder: Path | None = None


def share_in(folder: Path) -> None:
    """From now on this process's values are written to `folder`, where `exposition()`
    in any process sharing it adds them up. Call it before the first `instruments()`."""
    global _instruments, _shared_folder
    _shared_folder = folder
    _instruments = None
    os.environ[_MULTIPROC_VARIABLE] = str(folder)  # read as each value file is made


def instruments() -> Instruments:
    """This process's metrics, made on first use (shared if `share_in` was called)."""
    global _instruments
    if _instruments is None:
        values.ValueClass = (
            values.MultiProcessValue()  # type: ignore[no-untyped-call]
            if _shared_folder is not None
            else values.MutexValue
        )
        _instruments = Instruments(CollectorRegistry())
    return _instruments


class _Families:
    """Metric families made by the caller (a collector of values read at scrape time)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def exposition(read_now: Iterable[Metric] = ()) -> bytes:
    """Every sharing process's values, or this process's, in Prometheus' text format;
    then `read_now`, families the caller made from what it read for this scrape."""
    if _shared_folder is None:
        text = generate_latest(instruments().registry)
    else:
        registry = CollectorRegistry()
        shared.MultiProcessCollector(registry, path=str(_shared_folder))  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    return text + generate_latest(_Families(read_now))


def forget_process(pid: int) -> None:
    """A sharing process died: drop what only it could have kept up to date (gauges)."""
    if _shared_folder is not None:
        shared.mark_process_dead(pid, path=str(_shared_folder))  # type: ignore[no-untyped-call]
