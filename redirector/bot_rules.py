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
    recorded now, each `(link_index, time)` in time order. The second value is None when
    no stored hit joins a burst. Linear in the hits: a scanner behind one address can
    send thousands in one batch.
    """
    hits = [*earlier, *new]
    stored = len(earlier)
    links: dict[int, int] = {}  # link -> hits of it in the window hits[start:i]
    for link, _ in earlier:
        links[link] = links.get(link, 0) + 1
    start = 0
    unmarked = 0  # hits before this one are marked already (or left the window)
    marks = [False] * len(new)
    stored_since: float | None = None
    for i in range(stored, len(hits)):
        link, t = hits[i]
        while start < i and t - hits[start][1] > policy.seconds:
            old = hits[start][0]
            links[old] -= 1
            if not links[old]:
                del links[old]
            start += 1
        links[link] = links.get(link, 0) + 1
        if len(links) >= policy.links:
            for j in range(max(start, unmarked, stored), i + 1):
                marks[j - stored] = True
            unmarked = i + 1
            if start < stored:  # stored hits are in the window
                since = t - policy.seconds
                stored_since = since if stored_since is None else min(stored_since, since)
    return marks, stored_since
