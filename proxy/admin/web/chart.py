"""The message view's one chart: clicks and opens per day, humans and bots stacked, as
inline SVG drawn on the server (no script). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proxy.admin.web.markup import Html, join, render

__all__ = ["DayCounts", "day_chart"]

HEIGHT = 160  # of the bars' area, in SVG units
BAR, GAP, DAY_GAP, LEFT, BOTTOM, TOP = 14, 2, 16, 36, 24, 12
MIN_WIDTH = 360  # a day or two still look like a chart

_LEGEND = """<ul class="legend">
<li><span class="swatch human clicks"></span>human clicks</li>
<li><span class="swatch bot clicks"></span>bot clicks</li>
<li><span class="swatch human opens"></span>human opens</li>
<li><span class="swatch bot opens"></span>bot opens</li>
</ul>"""


@dataclass(frozen=True)
class DayCounts:
    day: str  # YYYY-MM-DD, UTC
    human_clicks: int = 0
    bot_clicks: int = 0
    human_opens: int = 0
    bot_opens: int = 0


def _bar(x: float, counts: tuple[int, int], scale: float, kind: str, day: str) -> Html:
    human, bot = counts
    human_height, bot_height = human * scale, bot * scale
    base = TOP + HEIGHT
    return render(
        "<g><title>$day: $kind — $human human, $bot bot</title>"
        '<rect class="human $kind" x="$x" y="$hy" width="$w" height="$hh"></rect>'
        '<rect class="bot $kind" x="$x" y="$by" width="$w" height="$bh"></rect></g>',
        day=day,
        kind=kind,
        human=human,
        bot=bot,
        x=f"{x:.1f}",
        w=BAR,
        hy=f"{base - human_height:.1f}",
        hh=f"{human_height:.1f}",
        by=f"{base - human_height - bot_height:.1f}",
        bh=f"{bot_height:.1f}",
    )


def day_chart(days: Sequence[DayCounts]) -> Html:
    """Per day a clicks bar (left) and an opens bar (right), each humans (below) and bots
    (above), and the legend."""
    if not days:
        return Html('<p class="muted">No clicks or opens yet.</p>')
    peak = max(max(d.human_clicks + d.bot_clicks, d.human_opens + d.bot_opens) for d in days)
    scale = HEIGHT / max(peak, 1)
    step = 2 * BAR + GAP + DAY_GAP
    width = max(MIN_WIDTH, LEFT + step * len(days) + 10)
    bars, labels = [], []
    for i, d in enumerate(days):
        x = LEFT + i * step
        bars.append(_bar(x, (d.human_clicks, d.bot_clicks), scale, "clicks", d.day))
        bars.append(_bar(x + BAR + GAP, (d.human_opens, d.bot_opens), scale, "opens", d.day))
        labels.append(
            render(
                '<text x="$x" y="$y" text-anchor="middle">$label</text>',
                x=f"{x + BAR:.1f}",
                y=TOP + HEIGHT + 14,
                label=d.day[5:],  # MM-DD: the year is in the table
            )
        )
    return render(
        '<svg class="chart" role="img" aria-label="Clicks and opens per day" '
        'viewBox="0 0 $width $height" width="$width" height="$height">'
        '<text x="$axis" y="$top_y" text-anchor="end">$peak</text>'
        '<text x="$axis" y="$zero_y" text-anchor="end">0</text>'
        '<line x1="$left" y1="$zero_line" x2="$width" y2="$zero_line" stroke="#a0a6b0"></line>'
        "$bars$labels</svg>$legend",
        width=width,
        height=TOP + HEIGHT + BOTTOM,
        legend=Html(_LEGEND),
        axis=LEFT - 4,
        top_y=TOP + 10,
        zero_y=TOP + HEIGHT,
        left=LEFT,
        zero_line=TOP + HEIGHT,
        peak=peak,
        bars=join(bars, ""),
        labels=join(labels, ""),
    )
