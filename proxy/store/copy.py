"""`trackway store copy`: a single-server data folder's state into PostgreSQL, step by
step, each idempotent (run twice: stored once), so an installation grows into several
servers without losing its history.

A step is `CopyStep(name, function)`, `function(settings, url) -> count` (what it
copied); it may say how far it is with `report(done, total)`. `COPY_STEPS` lists them in
order: the key ring, the domains, the certificates and ACME account (each from its own
package: rows the database lacks, never overwriting), then the events, here (the SQLite
database, then the spool's events not loaded yet, by the one loading path: batches,
burst marks across servers, ids kept).
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from config import Settings
from proxy.data_folder import burst_policy, client_salt
from proxy.store.certs import copy_certificates
from proxy.store.client_salt import shared_client_salt
from proxy.store.domains import copy_domains
from proxy.store.event_store import PostgresEventStore
from proxy.store.keys import copy_keys
from redirector.recording.event_store import DATABASE_FILE, EventFilter, SqliteEventStore
from redirector.recording.events import Event
from redirector.recording.hits import event_from_hit
from redirector.recording.spool import Spool

__all__ = ["COPY_STEPS", "CopyStep", "Progress", "copy_events", "copy_state", "report"]

BATCH = 20_000  # events in one transaction, as the loader's


@dataclass(frozen=True)
class CopyStep:
    name: str
    function: Callable[[Settings, str], int]


class Progress:
    """Where a step's `report` goes (the command draws it); the base draws nothing."""

    def step(self, name: str) -> None:
        """A step starts."""

    def update(self, name: str, done: int, total: int) -> None:
        """`done` of `total` items of step `name`."""

    def finish(self, name: str, count: int) -> None:
        """A step ended, having copied `count`."""


_current: contextvars.ContextVar[tuple[str, Progress]] = contextvars.ContextVar("copy_progress")


def report(done: int, total: int) -> None:
    """From a step: how far it is (drawn as a bar or a percentage)."""
    current = _current.get(None)
    if current is not None:
        current[1].update(current[0], done, total)


def copy_state(
    settings: Settings, url: str, steps: Sequence[CopyStep], progress: Progress
) -> list[tuple[str, int]]:
    """Runs `steps` in order against the database at `url`; each one's count."""
    counts = []
    for step in steps:
        progress.step(step.name)
        token = _current.set((step.name, progress))
        try:
            count = step.function(settings, url)
        finally:
            _current.reset(token)
        progress.finish(step.name, count)
        counts.append((step.name, count))
    return counts


def copy_events(settings: Settings, url: str) -> int:
    """The folder's SQLite events, then its spool's (loaded or not: an event already
    stored is stored once). Its client salt becomes the servers' if they have none yet,
    so that its clients' history keeps its keys."""
    salt = shared_client_salt_after_migrate(url, client_salt(settings.data))
    # No burst tracker here: every batch's clients looked up among those stored before.
    store = PostgresEventStore(
        url,
        retention_days=settings.store.retention_days,
        burst=burst_policy(settings),
        tracked=False,
    )
    try:
        database = settings.data / DATABASE_FILE
        source = SqliteEventStore(database, read_only=True) if database.exists() else None
        # Its hits keyed as the servers' are (the database's salt).
        spool = Spool(settings.data, True, lambda hit: event_from_hit(hit, settings.clicks, salt))
        spooled = list(spool.read_all())
        total = (_count(source) if source is not None else 0) + len(spooled)
        done = 0
        report(0, total)
        batches = _stored_batches(source) if source is not None else iter(())
        for batch in itertools.chain(batches, _chunks(sorted(spooled, key=lambda e: e.id))):
            store.write_batch(batch)
            done += len(batch)
            report(done, total)
        return done
    finally:
        store.close()


def shared_client_salt_after_migrate(url: str, local: bytes) -> bytes:
    PostgresEventStore(url).close()  # the schema first
    return shared_client_salt(url, local)


def _count(source: SqliteEventStore) -> int:
    row = source.conn.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0])


def _stored_batches(source: SqliteEventStore) -> Iterator[list[Event]]:
    try:
        after: str | None = None
        while batch := source.query(EventFilter(after_id=after, limit=BATCH)):
            yield batch
            after = batch[-1].id
    finally:
        source.close()


def _chunks(events: list[Event]) -> Iterator[list[Event]]:
    for start in range(0, len(events), BATCH):
        yield events[start : start + BATCH]


def _copy_keys(settings: Settings, url: str) -> int:
    return sum(copied.added for copied in copy_keys(settings, url).values())


def _copy_domains(settings: Settings, url: str) -> int:
    return sum(copied.added for copied in copy_domains(settings, url).values())


def _copy_certificates(settings: Settings, url: str) -> int:
    return sum(copy_certificates(settings, url).values())


# The key ring first: every link ever sent must verify on every server.
COPY_STEPS: tuple[CopyStep, ...] = (
    CopyStep("keys", _copy_keys),
    CopyStep("domains", _copy_domains),
    CopyStep("certificates", _copy_certificates),
    CopyStep("events", copy_events),
)
