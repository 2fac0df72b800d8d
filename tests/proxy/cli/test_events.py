from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from pathlib import Path

import pytest

from proxy.cli.events import EXPORT_FIELDS
from redirector.recording.event_store import DATABASE_FILE, SqliteEventStore
from redirector.recording.events import PUBLIC_FIELDS, Event, new_event_id
from redirector.recording.spool import Spool
from tests.proxy.cli.test_cli import trackway


def event(recipient: str, kind: str = "click", link: int = 0, bot: bool = False) -> Event:
    return Event(
        new_event_id(), time.time(), kind, "k", "m-1", recipient, link, "https://example.com/",
        "Mozilla/5.0", "127.0.0.1", "key-" + recipient, bot, ["scanner_ua"] if bot else [],
    )  # fmt: skip


def test_export_includes_spooled_events(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    store = SqliteEventStore(tmp_path / DATABASE_FILE)
    store.write_batch([event("a"), event("b", bot=True)])
    store.close()
    Spool(tmp_path).append([event("spooled", kind="open")])

    done = trackway("events", "export", data=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["recipient_id"] for r in rows] == ["a", "b", "spooled"]
    for row in rows:
        assert list(row) == [  # the order scripts read CSV columns by
            "id", "kind", "time", "timestamp", "message_id", "recipient_id", "link_index",
            "url", "bot", "reasons", "key_id", "user_agent", "client_ip", "label", "source",
        ]  # fmt: skip
    assert rows[1]["bot"] is True
    assert rows[1]["reasons"] == ["scanner_ua"]
    assert rows[2]["kind"] == "open"

    done = trackway("events", "export", "--format", "csv", "--kind", "click", data=tmp_path)
    table = list(csv.DictReader(io.StringIO(done.stdout.decode())))
    assert [r["recipient_id"] for r in table] == ["a", "b"]
    assert table[1]["reasons"] == "scanner_ua"

    done = trackway("events", "export", "--since", "2999-01-01", data=tmp_path)
    assert json.loads(done.stdout) == []
    done = trackway("events", "export", "--since", "soon", data=tmp_path)
    assert done.returncode == 1
    assert b"since" in done.stderr


def test_stats(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / DATABASE_FILE)
    store.write_batch([event("a"), event("a"), event("b", link=1), event("c", bot=True)])
    store.close()
    done = trackway("stats", "m-1", "--json", data=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    links = {link["link_index"]: link for link in doc["links"]}
    assert links[0] == {
        "link_index": 0,
        "url": "https://example.com/",
        "label": None,
        "human_clicks": 2,
        "bot_clicks": 1,
        "unique_recipients": 1,
    }
    assert links[1]["human_clicks"] == 1
    text = trackway("stats", "m-1", data=tmp_path).stdout.decode()
    assert "HUMAN" in text


def test_the_export_has_every_public_field_of_an_event() -> None:
    assert sorted(EXPORT_FIELDS) == sorted([*PUBLIC_FIELDS, "timestamp"])


FORMULAS = ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(
    tmp_path: Path, formula: str
) -> None:
    """A cell starting with = + - @, a tab or a CR is a formula to a spreadsheet: CSV
    prefixes it with ' (OWASP's CSV injection advice); JSON stays exact."""
    store = SqliteEventStore(tmp_path / DATABASE_FILE)
    store.write_batch([dataclasses.replace(event(formula), user_agent=formula, label=formula)])
    store.close()
    done = trackway("events", "export", "--format", "csv", data=tmp_path)
    assert done.returncode == 0, done.stderr
    (row,) = csv.DictReader(io.StringIO(done.stdout.decode(), newline=""))
    for field in ("user_agent", "label", "recipient_id"):
        assert row[field] == "'" + formula
    assert row["url"] == "https://example.com/"  # others as they are
    assert row["link_index"] == "0"
    (doc,) = json.loads(trackway("events", "export", data=tmp_path).stdout)
    assert (doc["user_agent"], doc["label"], doc["recipient_id"]) == (formula,) * 3


def test_the_export_help_says_how_csv_cells_are_neutralised(tmp_path: Path) -> None:
    done = trackway("events", "export", "--help", data=tmp_path)
    text = " ".join(done.stdout.decode().split())  # however argparse wraps it
    assert "a cell starting with =, +, -, @, a tab or a carriage return" in text
    assert "is prefixed with '" in text
