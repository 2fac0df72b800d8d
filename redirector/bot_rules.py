"""Scanner and bot verdicts. Pure: the inputs and `now` in, reason codes out.

Mail security gateways fetch every link of a message seconds after delivery. Their
events are still recorded (and redirected: the recipient may be behind the scanner),
but marked, and human counts leave them out.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Collection, Sequence
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


def is_burst(earlier_links: Collection[int], link_index: int, policy: BurstPolicy) -> bool:
    """`earlier_links`: the links this client hit on this message within the window."""
    return len({*earlier_links, link_index}) >= policy.links


def burst_marks(
    earlier: Sequence[tuple[int, float]], new: Sequence[tuple[int, float]], policy: BurstPolicy
) -> tuple[list[bool], float | None]:
    """Which `new` hits are in a burst, and from when stored hits must be marked too.

    `earlier` are the stored hits of one client on one message, `new` the hits being
    recorded now, each `(link_index, time)` in time order. The second value is None when
    no stored hit joins a burst.
    """
    window: deque[tuple[int, float, int]] = deque((link, t, -1) for link, t in earlier)
    marks = [False] * len(new)
    stored_since: float | None = None
    for i, (link, t) in enumerate(new):
        while window and t - window[0][1] > policy.seconds:
            window.popleft()
        if is_burst({hit[0] for hit in window}, link, policy):
            marks[i] = True
            for _, _, j in window:
                if j >= 0:
                    marks[j] = True
            if any(j < 0 for _, _, j in window):
                start = t - policy.seconds
                stored_since = start if stored_since is None else min(stored_since, start)
        window.append((link, t, i))
    return marks, stored_since
