"""Recording events, the one way: hits → spool → loader → event store.

A click's hit is durable in its process's spool file (`spool_writer`, group commit by
`gathering`) before it is answered; a loader (`spool_loader`, paced by `load_pacing`)
turns hits into events (`hits`, `bot_rules`, `burst_tracker`) and loads them into the
event store (`event_store`); readers merge store and spool (`event_reader`: events, and
per-link stats). The event schema is declared once, in `events`. Imports `config`,
`redirector.links` (a hit carries the token's claims) and `redirector.metrics`.
"""

from redirector.recording.bot_rules import BurstPolicy
from redirector.recording.event_reader import MessageStats, read_events, read_stats
from redirector.recording.event_store import (
    DATABASE_FILE,
    EventFilter,
    EventStore,
    LinkStats,
    SqliteEventStore,
    StoreUnavailable,
)
from redirector.recording.events import CLICK, KINDS, OPEN, PREFETCH, Event
from redirector.recording.hits import Hit, event_from_hit
from redirector.recording.spool import Spool
from redirector.recording.spool_loader import SpoolLoader, keep_loading
from redirector.recording.spool_writer import SpoolWriter

__all__ = [
    "CLICK",
    "DATABASE_FILE",
    "KINDS",
    "OPEN",
    "PREFETCH",
    "BurstPolicy",
    "Event",
    "EventFilter",
    "EventStore",
    "Hit",
    "LinkStats",
    "MessageStats",
    "Spool",
    "SpoolLoader",
    "SpoolWriter",
    "SqliteEventStore",
    "StoreUnavailable",
    "event_from_hit",
    "keep_loading",
    "read_events",
    "read_stats",
]
