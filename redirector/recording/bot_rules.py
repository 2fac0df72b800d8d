"""Scanner and bot verdicts. Pure: the inputs and `now` in, reason codes out.

Mail security gateways fetch every link of a message seconds after delivery. Their
events are still recorded (and redirected: the recipient may be behind the scanner),
but marked, and human counts leave them out.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from crawlerdetect import CrawlerDetect

HEAD = "head"
SCANNER_UA = "scanner_ua"
CRAWLER_UA = "crawler_ua"
TOO_FAST = "too_fast"
BURST = "burst"

# Gateways that say who they are; many also hide behind browser agents, which is what
# `too_fast` and `burst` are for. Lowercase substrings.
SCANNER_AGENTS = (
    "safelinks",
    "microsoft office protection",
    "mimecast",
    "proofpoint",
    "ppops",
    "barracuda",
    "messagelabs",
    "symantec",
    "ironport",
    "forcepoint",
    "trendmicro",
    "trend micro",
    "fortiguard",
    "sophos",
    "zscaler",
    "checkpoint",
    "cloudmark",
    "vade",
    "hornetsecurity",
    "libraesva",
    "spamtitan",
    "mailguard",
)


@dataclass(frozen=True)
class BurstPolicy:
    """A burst: one client reaching `links` or more different links of one message within
    `seconds`. People click one or two links of an email; scanners fetch them all."""

    links: int
    seconds: float


@functools.lru_cache(maxsize=4096)  # a big send sees the same few agents again and again
def agent_reasons(user_agent: str) -> tuple[str, ...]:
    lowered = user_agent.lower()
    if any(name in lowered for name in SCANNER_AGENTS):
        return (SCANNER_UA,)
    if not user_agent.strip() or _crawler_detect().isCrawler(user_agent):
        return (CRAWLER_UA,)
    return ()


@functools.cache
def _crawler_detect() -> CrawlerDetect:
    return CrawlerDetect()


def request_reasons(
    *, is_head: bool, user_agent: str, sent_at: float, now: float, too_fast_seconds: float
) -> list[str]:
    reasons = [HEAD] if is_head else []
    reasons += agent_reasons(user_agent)
    if now - sent_at < too_fast_seconds:
        reasons.append(TOO_FAST)
    return reasons


def burst_marks(
    earlier: Sequence[tuple[int, float]], new: Sequence[tuple[int, float]], policy: BurstPolicy
) -> tuple[list[bool], float | None]:
    """Which `new` hits are in a burst, and from when stored hits must be marked too.

    `earlier` are the stored hits of one client on one message, `new` the hits being
    recorded now, each `(link_index, time)`, in any order (workers' hits can arrive late).
    A window is the `seconds` up to a hit; one that holds `links` or more different links
    and a new hit marks its new hits, and its stored ones from its start. The second value
    is None when no stored hit joins a burst. Linear in the hits (after sorting): a scanner
    behind one address can send thousands in one batch.
    """
    # (time, new index or -1 for stored, link), in time order
    hits = sorted(
        [(t, -1, link) for link, t in earlier] + [(t, i, link) for i, (link, t) in enumerate(new)]
    )
    links: dict[int, int] = {}  # link -> hits of it in the window hits[start:end + 1]
    start = 0
    new_in_window = stored_in_window = 0
    unmarked = 0  # new hits before this position are marked already (or left the window)
    marks = [False] * len(new)
    stored_since: float | None = None
    for end, (t, index, link) in enumerate(hits):
        links[link] = links.get(link, 0) + 1
        if index >= 0:
            new_in_window += 1
        else:
            stored_in_window += 1
        while t - hits[start][0] > policy.seconds:
            _, old_index, old = hits[start]
            links[old] -= 1
            if not links[old]:
                del links[old]
            if old_index >= 0:
                new_in_window -= 1
            else:
                stored_in_window -= 1
            start += 1
        if len(links) >= policy.links and new_in_window:
            for k in range(max(start, unmarked), end + 1):
                if hits[k][1] >= 0:
                    marks[hits[k][1]] = True
            unmarked = end + 1
            if stored_in_window:
                since = t - policy.seconds
                stored_since = since if stored_since is None else min(stored_since, since)
    return marks, stored_since
