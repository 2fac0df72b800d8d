"""The message view: a message's clicks and opens per day (humans and bots apart), its
links (label, destination, human clicks, bot clicks with their reasons, unique
recipients) and the chart. Pure.

Everything shown is `/api/stats`'s `read_stats`, asked `by_day` for the days and the bots'
reasons: counted by the store, with the spool's pending events merged once.
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.admin.web.chart import DayCounts, day_chart
from proxy.admin.web.markup import Html, join, render, when
from redirector.recording.event_reader import MessageStats

__all__ = ["day_counts", "message_form", "message_page"]


def day_counts(stats: MessageStats) -> list[DayCounts]:
    return [DayCounts(day, **counts) for day, counts in sorted(stats.days.items())]


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
</section>
<section class="card">
<h2>Links</h2>
<table class="links"><thead><tr><th>#</th><th>Label</th><th>Destination</th>
<th class="num">Human clicks</th><th class="num">Bot clicks</th><th>Bots' reasons</th>
<th class="num">Unique recipients</th></tr></thead><tbody>$links</tbody></table>
</section>"""


def _reasons(found: Mapping[str, int]) -> str:
    return ", ".join(f"{reason}: {n}" for reason, n in found.items()) or "—"


def message_page(stats: MessageStats) -> Html:
    days_counted = day_counts(stats)
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
        for d in days_counted
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
            reasons=_reasons(stats.bot_reasons.get(link.link_index, {})),
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
        chart=day_chart(days_counted),
        days=days,
        links=links,
    )
