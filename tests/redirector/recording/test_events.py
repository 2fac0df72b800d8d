"""The event schema: one declaration, and every form derived from it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from redirector.recording.event_store import SqliteEventStore, StoreUnavailable
from redirector.recording.events import COLUMNS, FIELDS, PUBLIC_FIELDS, Event


def an_event(**changes: Any) -> Event:
    values: dict[str, Any] = {
        "id": "0001",
        "time": 1_790_000_000.5,
        "kind": "click",
        "key_id": "0a0b0c0d",
        "message_id": "msg",
        "recipient_id": "rcpt",
        "link_index": 3,
        "url": "https://example.com/",
        "user_agent": "UA",
        "client_ip": None,
        "client_key": "ck",
        "bot": True,
        "reasons": ["head", "burst"],
        "label": "hero",
    }
    return Event(**{**values, **changes})


def test_the_stored_form_round_trips() -> None:
    event = an_event()
    values = event.as_values()
    assert len(values) == len(FIELDS) == len(COLUMNS)
    assert values[FIELDS.index("bot")] == 1
    assert values[FIELDS.index("reasons")] == "head,burst"
    assert Event.from_values(values) == event
    assert Event.from_values(an_event(bot=False, reasons=[]).as_values()).reasons == []
    assert Event.from_values(an_event(label=None).as_values()).label is None


@pytest.mark.parametrize(
    "values",
    [
        (),
        ("only", "three", "values"),
        (1, *an_event().as_values()[1:]),  # an id that is no text
        (*an_event().as_values()[:9], 42, *an_event().as_values()[10:]),  # client_ip
    ],
)
def test_what_is_not_an_event_is_refused(values: tuple[Any, ...]) -> None:
    with pytest.raises(TypeError):
        Event.from_values(values)


def test_the_public_form_has_every_field_but_the_client_key() -> None:
    doc = an_event().public()
    assert tuple(doc) == PUBLIC_FIELDS == (
        "id", "time", "kind", "key_id", "message_id", "recipient_id", "link_index", "url",
        "user_agent", "client_ip", "bot", "reasons", "label", "source",
    )  # fmt: skip
    assert "client_key" not in doc
    assert doc["bot"] is True
    assert doc["reasons"] == ["head", "burst"]


def test_the_database_has_a_column_per_field(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "events.db")
    store.write_batch([an_event()])
    store.close()
    conn = sqlite3.connect(tmp_path / "events.db")
    columns = {row[1]: row for row in conn.execute("PRAGMA table_info(events)")}
    conn.close()
    assert tuple(columns) == FIELDS
    nullable = {"client_ip", "label"}  # the columns that may be NULL
    assert all(columns[name][3] == 0 for name in nullable)
    assert all(columns[name][3] == 1 for name in FIELDS if name not in nullable)


def test_processes_opening_a_new_database_at_once_all_get_it(tmp_path: Path) -> None:
    """The writer process's loader, a CLI's `events export` and the admin API may open a
    data folder's database at the same moment, the first time too: each one gets it
    (SQLite answers "database is locked" at once, without waiting, to a second
    connection making it WAL or its schema)."""
    for attempt in range(20):
        path = tmp_path / f"{attempt}" / "trackway.db"
        path.parent.mkdir()
        failed: list[str] = []

        def open_and_read(path: Path = path, failed: list[str] = failed) -> None:
            try:
                store = SqliteEventStore(path)
                store.recent(0)
                store.close()
            except StoreUnavailable as e:
                failed.append(str(e))

        threads = [threading.Thread(target=open_and_read) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failed == []
