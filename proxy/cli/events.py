"""`trackway events export` and `trackway stats`."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from config import Settings
from proxy.admin.query import QueryError, event_filter
from proxy.cli.output import CliError, iso_utc
from proxy.data_folder import open_spool, open_store
from redirector.recording.event_reader import read_events, read_stats
from redirector.recording.event_store import EventFilter, EventStore, StoreUnavailable
from redirector.recording.events import Event
from redirector.recording.spool import Spool

# The columns of `events export`, in the order users' scripts read them: the event's
# public fields (events.PUBLIC_FIELDS) and `timestamp` (unix seconds) beside `time`.
EXPORT_FIELDS = (
    "id", "kind", "time", "timestamp", "message_id", "recipient_id", "link_index", "url",
    "bot", "reasons", "key_id", "user_agent", "client_ip",
    # Added later: new columns go last, so that scripts reading by position keep working.
    "label",
    "source",  # "app" when an app resolved an app link (`/a/`) as JSON, else "browser"
)  # fmt: skip
_PAGE = 10_000
# A cell starting with one of these is a formula to a spreadsheet (`=HYPERLINK(…)` in a
# user agent): CSV prefixes it with ' as OWASP's CSV injection advice says.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    events = commands.add_parser("events", help="recorded clicks and opens")
    actions = events.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        parents=[common],
        help="export events as CSV or JSON",
        description="Write every recorded event (spooled ones included) to stdout. In CSV, "
        "a cell starting with =, +, -, @, a tab or a carriage return (a user agent such as "
        "=HYPERLINK(...)) is prefixed with ' so that no spreadsheet runs it as a formula; "
        "JSON holds every value exactly.",
    )
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument(
        "--since", metavar="WHEN", help="unix seconds, ISO 8601, or an age like 2h or 7d"
    )
    export.add_argument("--message-id", metavar="ID")
    export.add_argument("--recipient", metavar="ID")
    export.add_argument("--kind", choices=("click", "open", "prefetch"))
    export.set_defaults(handler=export_command)

    stats = commands.add_parser(
        "stats",
        parents=[common],
        help="per-link counts of one message",
        description="Human clicks, bot clicks and unique recipients for each link of a "
        "message (with its label, - when it has none), and its opens; events still in the "
        "spool are counted, and how many there are is said (their bursts are not found yet).",
    )
    stats.add_argument("message_id", metavar="MESSAGE_ID")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(handler=stats_command)


def export_row(event: Event) -> dict[str, Any]:
    doc = event.public()
    doc["timestamp"] = event.time
    doc["time"] = iso_utc(event.time, millis=True)
    return {name: doc[name] for name in EXPORT_FIELDS}


def csv_cell(value: Any) -> Any:
    """`value` as a CSV cell that a spreadsheet shows and never runs. Pure."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export_command(args: argparse.Namespace, settings: Settings) -> int:
    query = {
        "since": args.since or "",
        "message_id": args.message_id or "",
        "recipient_id": args.recipient or "",
        "kind": args.kind or "",
        "limit": str(_PAGE),
    }
    try:
        flt = event_filter(query)
    except QueryError as e:
        raise CliError(f"--{e}") from None
    try:
        store = open_store(settings)
    except StoreUnavailable as e:
        print(f"trackway: {e}; exporting the spool only", file=sys.stderr)
        store = None
    try:
        _export(args, store, open_spool(settings), flt)
    finally:
        if store is not None:
            store.close()
    return 0


def _export(
    args: argparse.Namespace, store: EventStore | None, spool: Spool, flt: EventFilter
) -> None:
    out = sys.stdout
    writer = csv.DictWriter(out, EXPORT_FIELDS) if args.format == "csv" else None
    if writer is not None:
        writer.writeheader()
    else:
        out.write("[")
    first = True
    while True:
        page = read_events(store, spool, flt)
        for event in page:
            row = export_row(event)
            if writer is not None:
                row = {**row, "reasons": ",".join(row["reasons"]), "bot": int(row["bot"])}
                writer.writerow({name: csv_cell(value) for name, value in row.items()})
            else:
                out.write(("\n  " if first else ",\n  ") + json.dumps(row, ensure_ascii=False))
                first = False
        if len(page) < flt.limit:
            break
        flt = type(flt)(**{**flt.__dict__, "after_id": page[-1].id})
    if writer is None:
        out.write("\n]\n" if not first else "]\n")


def stats_command(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings)
    try:
        stats = read_stats(store, open_spool(settings), args.message_id)
    finally:
        store.close()
    if args.json:
        print(json.dumps(stats.as_dict(), indent=2))
        return 0
    links, opens = stats.links, stats.opens
    labels = ["-" if s.label is None else s.label for s in links]
    width = max(map(len, ["LABEL", *labels]))
    print(f"message {args.message_id}")
    print(f"{'LINK':>4}  {'HUMAN':>6}  {'BOT':>6}  {'UNIQUE':>6}  {'LABEL':<{width}}  URL")
    for s, label in zip(links, labels, strict=True):
        print(
            f"{s.link_index:>4}  {s.human_clicks:>6}  {s.bot_clicks:>6}  "
            f"{s.unique_recipients:>6}  {label:<{width}}  {s.url}"
        )
    print(
        f"opens: {opens['human_opens']} human, {opens['bot_opens']} bot, "
        f"{opens['unique_openers']} unique"
    )
    if stats.spooled_events:
        print(
            f"{stats.spooled_events} of these events are still in the spool (the database "
            "lags behind): counted, but bursts among them are not found yet, so some human "
            "counts may become bot counts"
        )
    return 0
