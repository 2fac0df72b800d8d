"""The message view: a message's clicks and opens per day (humans and bots apart), its
links (label, destination, human clicks, bot clicks with their reasons, unique
recipients) and the chart. Pure.

The per-link counts are `/api/stats`'s (`read_stats`); the days and the bots' reasons,
which the stats do not keep, are counted here from the message's events.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from proxy.admin.web.chart import DayCounts, day_chart
from proxy.admin.web.markup import Html, join, render, when
from redirector.recording.event_reader import MessageStats
from redirector.recording.events import CLICK, OPEN, Event

__all__ = ["MessageEvents", "count_events", "message_form", "message_page"]


@dataclass(frozen=True)
class MessageEvents:
    """What the message's events say beyond its stats."""

    days: list[DayCounts]
    bot_reasons: dict[int, dict[str, int]] = field(default_factory=dict)  # link -> reason -> n
    counted: int = 0
    complete: bool = True  # False: more events than were read


def _day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def count_events(events: Iterable[Event], complete: bool = True) -> MessageEvents:
    days: dict[str, DayCounts] = {}
    reasons: dict[int, Counter[str]] = {}
    counted = 0
    for event in events:
        if event.kind not in (CLICK, OPEN):
            continue  # prefetches are neither
        counted += 1
        day = _day(event.time)
        counts = days.get(day, DayCounts(day))
        name = f"{'bot' if event.bot else 'human'}_{event.kind}s"
        days[day] = replace(counts, **{name: getattr(counts, name) + 1})
        if event.kind == CLICK and event.bot:
            reasons.setdefault(event.link_index, Counter()).update(event.reasons or ["unknown"])
    return MessageEvents(
        [days[d] for d in sorted(days)],
        {i: dict(c.most_common()) for i, c in reasons.items()},
        counted,
        complete,
    )


_FORM = """<section class="card">
<form method="get" action="/ui/messages" class="stack">
<label>Message id <input type="text" name="message_id" value="$value" required></label>
<button type="submit">Show</button>
</form>
</section>"""


def message_form(message_id: str = "") -> Html:
    return render(_FORM, value=message_id)


_MESSAGE = """$form
<section class="card">
<h2>Opens</h2>
<p><span id="human-opens">$human_opens</span> by humans
(<span id="unique-openers">$unique_openers</span> recipients),
<span id="bot-opens">$bot_opens</span> by bots.$spooled</p>
</section>
<section class="card">
<h2>Per day</h2>
$chart
<table class="days"><thead><tr><th>Day (UTC)</th><th class="num">Human clicks</th>
<th class="num">Bot clicks</th><th class="num">Human opens</th><th class="num">Bot opens</th>
</tr></thead><tbody>$days</tbody></table>
$partial
</section>
<section class="card">
<h2>Links</h2>
<table class="links"><thead><tr><th>#</th><th>Label</th><th>Destination</th>
<th class="num">Human clicks</th><th class="num">Bot clicks</th><th>Bots' reasons</th>
<th class="num">Unique recipients</th></tr></thead><tbody>$links</tbody></table>
</section>"""


def _reasons(found: Mapping[str, int]) -> str:
    return ", ".join(f"{reason}: {n}" for reason, n in found.items()) or "—"


def message_page(stats: MessageStats, events: MessageEvents) -> Html:
    days = join(
        render(
            '<tr><td>$day</td><td class="num">$hc</td><td class="num">$bc</td>'
            '<td class="num">$ho</td><td class="num">$bo</td></tr>',
            day=d.day,
            hc=d.human_clicks,
            bc=d.bot_clicks,
            ho=d.human_opens,
            bo=d.bot_opens,
        )
        for d in events.days
    )
    links = join(
        render(
            '<tr data-link="$index"><td>$index</td><td>$label</td><td><code>$url</code></td>'
            '<td class="num">$human</td><td class="num">$bot</td><td>$reasons</td>'
            '<td class="num">$unique</td></tr>',
            index=link.link_index,
            label=link.label or "—",
            url=link.url,
            human=link.human_clicks,
            bot=link.bot_clicks,
            reasons=_reasons(events.bot_reasons.get(link.link_index, {})),
            unique=link.unique_recipients,
        )
        for link in stats.links
    ) or Html('<tr><td colspan="7" class="muted">No clicks yet.</td></tr>')
    return render(
        _MESSAGE,
        form=message_form(stats.message_id),
        human_opens=stats.opens.get("human_opens", 0),
        unique_openers=stats.opens.get("unique_openers", 0),
        bot_opens=stats.opens.get("bot_opens", 0),
        spooled=when(
            stats.spooled_events,
            render(
                ' <span class="muted">$n of the events are not loaded yet: some human '
                "counts may become bot counts.</span>",
                n=stats.spooled_events,
            ),
        ),
        chart=day_chart(events.days),
        days=days,
        partial=when(
            not events.complete,
            render('<p class="muted">Days from the first $n events only.</p>', n=events.counted),
        ),
        links=links,
    )
