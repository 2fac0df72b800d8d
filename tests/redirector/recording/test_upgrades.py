"""What an earlier version left behind is read by this one: spool records written
before labels or before sources, and a database without the `label` and `source`
columns."""

from __future__ import annotations

import marshal
import sqlite3
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from config import ClickSettings
from redirector.links.tokens import Claims
from redirector.recording.bot_rules import BurstPolicy
from redirector.recording.event_store import EventFilter, SqliteEventStore
from redirector.recording.events import APP, BROWSER, FIELDS, Event
from redirector.recording.hits import Hit, event_from_hit
from redirector.recording.spool import SPOOL_DIR, V2_SUFFIX, Spool, encode_hits
from redirector.recording.spool_loader import SpoolLoader

# The layouts of the version before labels, written out: that code is gone.
OLD_HIT = (
    "0000000000000001aaaaaa000001", 1_790_000_000.25, "click", "0a0b0c0d", "m-old", "r-old",
    2, "https://example.com/old", 1_700_000_000, "Mozilla/5.0", "192.0.2.7",
)  # fmt: skip
OLD_EVENT = (
    "0000000000000002aaaaaa000002", 1_790_000_001.5, "open", "0a0b0c0d", "m-old", "r-old",
    0, "", "Mozilla/5.0", None, "ck", 1, "scanner_ua",
)  # fmt: skip
OLD_COLUMNS = FIELDS[: FIELDS.index("label")]
OLD_TABLE = (
    "CREATE TABLE [events] ([id] TEXT PRIMARY KEY NOT NULL, [time] FLOAT NOT NULL, "
    "[kind] TEXT NOT NULL, [key_id] TEXT NOT NULL, [message_id] TEXT NOT NULL, "
    "[recipient_id] TEXT NOT NULL, [link_index] INTEGER NOT NULL, [url] TEXT NOT NULL, "
    "[user_agent] TEXT NOT NULL, [client_ip] TEXT, [client_key] TEXT NOT NULL, "
    "[bot] INTEGER NOT NULL, [reasons] TEXT NOT NULL)"
)


def old_record(kind: str, rows: list[tuple[Any, ...]]) -> bytes:
    """A spool record as the earlier version wrote it."""
    payload = marshal.dumps((kind, rows), 4)
    return struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def spool_file(data: Path, *records: bytes, suffix: str = ".spool") -> None:
    """A spool file of the earlier version (its suffix), or of this one (V2_SUFFIX)."""
    folder = data / SPOOL_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    (folder / f"00000000000000000001-1-abcdef{suffix}").write_bytes(b"".join(records))


def test_records_written_before_labels_still_load(tmp_path: Path) -> None:
    spool_file(tmp_path, old_record("h", [OLD_HIT]), old_record("e", [OLD_EVENT]))
    hit_event, old_event = Spool(tmp_path).read_all()
    assert (hit_event.id, hit_event.kind, hit_event.key_id, hit_event.url) == (
        OLD_HIT[0], "click", "0a0b0c0d", "https://example.com/old",
    )  # fmt: skip
    assert (hit_event.message_id, hit_event.recipient_id, hit_event.link_index) == (
        "m-old", "r-old", 2,
    )  # fmt: skip
    assert hit_event.label is None
    assert old_event == Event.from_values((*OLD_EVENT, None, BROWSER))

    db = tmp_path / "trackway.db"
    loader = SpoolLoader(lambda: SqliteEventStore(db), Spool(tmp_path), BurstPolicy(3, 10), 0.01)
    assert loader.load() == 2
    loader.close()
    store = SqliteEventStore(db)
    assert [e.id for e in store.query(EventFilter())] == [OLD_HIT[0], OLD_EVENT[0]]
    store.close()
    assert Spool(tmp_path).files() == []  # loaded, nobody holds it: gone


def test_records_written_before_sources_load_as_a_browsers(tmp_path: Path) -> None:
    claims = ("https://example.com/x", "m", "r", 1, 1_700_000_000, "hero", "0a0b0c0d", 1)
    hit_v2 = ("0000000000000004aaaaaa000004", 1_790_000_000.0, "click", "UA", "", claims)
    event_v2 = (*OLD_EVENT[:-1], "burst", "a label")  # every field but `source`
    spool_file(tmp_path, old_record("h2", [hit_v2]), old_record("e2", [event_v2]))
    from_hit, from_event = Spool(tmp_path).read_all()
    assert (from_hit.id, from_hit.label, from_hit.source) == (hit_v2[0], "hero", BROWSER)
    assert from_event == Event.from_values((*event_v2, BROWSER))


def test_an_apps_hit_keeps_its_source_through_the_spool(tmp_path: Path) -> None:
    claims = Claims("https://example.com/app", "m", "r", 1, 1_700_000_000, None, "0a0b0c0d")
    hit = Hit("0000000000000005aaaaaa000005", 1_790_000_000.0, "click", "App", "", claims, APP)
    spool_file(tmp_path, encode_hits([hit]), suffix=V2_SUFFIX)
    (event,) = Spool(tmp_path).read_all()
    assert (event.source, event.url) == (APP, claims.url)


def test_a_hit_keeps_its_claims_label_through_the_spool(tmp_path: Path) -> None:
    claims = Claims("https://example.com/é", "m", "r", 1, 1_700_000_000, "hero", "0a0b0c0d")
    hit = Hit("0000000000000003aaaaaa000003", 1_790_000_000.0, "click", "UA", "", claims)
    spool_file(tmp_path, encode_hits([hit]), suffix=V2_SUFFIX)
    (event,) = Spool(tmp_path).read_all()
    assert event == event_from_hit(hit, ClickSettings(client_ip="none"), b"")
    assert (event.label, event.key_id, event.url) == ("hero", "0a0b0c0d", claims.url)


@pytest.mark.parametrize(
    "bad",
    [
        old_record("h", [(*OLD_HIT[:6], "2", *OLD_HIT[7:])]),  # a link index as text
        old_record("h", [OLD_HIT[:10]]),
        old_record("e", [(*OLD_EVENT, "a label", "one too many")]),
        old_record("h2", [("id", 1.0, "click", "UA", "", ("u", "m", "r", 1, 2, 3, "k", 1))]),
        old_record("h2", [("id", 1.0, "click", "UA", "", ("u", "m"))]),
        old_record("h9", []),
    ],
    ids=["text-index", "short-hit", "long-event", "int-label", "short-claims", "unknown"],
)
def test_a_batch_of_the_wrong_shape_is_skipped_not_the_file(tmp_path: Path, bad: bytes) -> None:
    spool_file(tmp_path, bad, old_record("e", [OLD_EVENT]))
    assert [e.id for e in Spool(tmp_path).read_all()] == [OLD_EVENT[0]]


def old_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute(OLD_TABLE)
    conn.execute(f"INSERT INTO events VALUES ({','.join('?' * len(OLD_EVENT))})", OLD_EVENT)
    conn.commit()
    conn.close()


def test_an_old_database_gets_the_label_column_and_keeps_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "trackway.db"
    old_database(db)
    labelled = Event.from_values((*OLD_EVENT, "hero", APP))
    labelled.id = "0000000000000009aaaaaa000009"
    store = SqliteEventStore(db)
    store.write_batch([labelled])
    assert [(e.id, e.label, e.source) for e in store.query(EventFilter())] == [
        (OLD_EVENT[0], None, BROWSER),  # rows of before sources: a browser's
        (labelled.id, "hero", APP),
    ]
    store.close()
    conn = sqlite3.connect(db)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(events)")]
    conn.close()
    assert tuple(columns) == FIELDS
    SqliteEventStore(db).close()  # opening a migrated database again changes nothing


def test_an_old_database_that_cannot_be_changed_is_still_read(tmp_path: Path) -> None:
    db = tmp_path / "trackway.db"
    old_database(db)
    store = SqliteEventStore(db, read_only=True)
    (event,) = store.query(EventFilter())
    assert event == Event.from_values((*OLD_EVENT, None, BROWSER))
    assert store.recent(0) == []  # opens only
    stats = store.stats("m-old")
    assert (stats.links, stats.opens["bot_opens"]) == ([], 1)
    store.close()
