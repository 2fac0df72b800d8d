"""Prometheus metrics of the click path.

`trackway serve` runs several processes; it sets PROMETHEUS_MULTIPROC_DIR before this
module is imported so that the admin listener can add up every worker's values.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("trackway_requests", "Requests answered", ["route", "status"])
EVENTS_WRITTEN = Counter(
    "trackway_events_written",
    "Events made durable: to the spool (before the answer), then to the database",
    ["to"],
)
SPOOL_EVENTS = Gauge(
    "trackway_spool_events", "Events waiting in the spool", multiprocess_mode="max"
)
WRITE_BATCH_SECONDS = Histogram(
    "trackway_write_batch_seconds",
    "Time to make one batch of events durable (what its clicks wait for)",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0),
)
WRITE_BATCH_SIZE = Histogram(
    "trackway_write_batch_events",
    "Events in one durable batch",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
LOAD_BATCH_SECONDS = Histogram(
    "trackway_load_batch_seconds",
    "Time to load one batch of spooled events into the database",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0),
)
