"""Rewrite the links of an email body for one recipient of one message.

Only the values of link attributes (HTML) or the URLs themselves (text) change; every
other character is copied through, so the result differs from the input exactly at the
positions the report lists. A link marked to open in the sender's app (an attribute of
`LinkRules.app_link_attributes`, which itself stays as written) is signed under `/a/`;
plain text has no attributes, so its links are always `/c/`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from config import RewriteSettings
from redirector.links.signer import LinkSigner
from redirector.links.tokens import Claims
from redirector.rewrite.entities import decode_attribute, escape_attribute
from redirector.rewrite.html_scan import scan_links
from redirector.rewrite.link_rules import (
    OPTED_OUT,
    TOO_LONG,
    LinkRules,
    destination,
    is_app_link,
    opted_out,
    url_reason,
)
from redirector.rewrite.text_scan import scan_urls
from redirector.rewrite.utm import add_utm


@dataclass(frozen=True)
class SendContext:
    """Who a body is rendered for; `sent_at` is unix seconds, carried in every token."""

    message_id: str
    recipient_id: str
    sent_at: int
    utm: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)  # not frozen: every link makes one, and frozen init is slow
class LinkReport:
    index: int  # the link's number in the message, carried in its token
    offset: int  # of the original value, in characters
    original: str  # the value exactly as written
    url: str  # where it points (entities decoded)
    tracked_url: str | None = None
    reason: str | None = None  # why it was left alone
    label: str | None = None
    lines: _Lines | None = field(default=None, repr=False, compare=False)
    app_link: bool = False  # signed under `/a/`: marked to open in the sender's app

    @property
    def line(self) -> int:
        """1-based."""
        return self.lines.position(self.offset)[0] if self.lines else 0

    @property
    def column(self) -> int:
        """1-based, in characters."""
        return self.lines.position(self.offset)[1] if self.lines else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "position": f"{self.line}:{self.column}",
            "line": self.line,
            "column": self.column,
            "offset": self.offset,
            "original": self.original,
            "url": self.url,
            "tracked_url": self.tracked_url,
            "reason": self.reason,
            "label": self.label,
            "app_link": self.app_link,
        }


@dataclass(slots=True)  # not frozen: one per body rewritten
class RewriteResult:
    body: str
    links: tuple[LinkReport, ...]
    open_pixel_url: str | None = None

    @property
    def tracked(self) -> tuple[LinkReport, ...]:
        return tuple(link for link in self.links if link.tracked_url is not None)

    def report(self) -> dict[str, Any]:
        return {
            "links_found": len(self.links),
            "links_tracked": len(self.tracked),
            "app_links": sum(link.app_link for link in self.links),
            "links": [link.as_dict() for link in self.links],
            "open_pixel_url": self.open_pixel_url,
        }


class Rewriter:
    def __init__(self, signer: LinkSigner, rules: LinkRules | None = None) -> None:
        self.signer = signer
        # Without rules: the settings' defaults (opt-out attributes, label attribute).
        self.rules = rules or LinkRules.from_settings(RewriteSettings(), ())

    def rewrite_html(
        self, html: str, ctx: SendContext, first_index: int = 0, *, open_pixel: bool = False
    ) -> RewriteResult:
        """With `open_pixel`, a 1x1 image that records opens goes before `</body>`."""
        parts: list[str] = []
        reports: list[LinkReport] = []
        copied = 0
        lines = _Lines(html)
        rules = self.rules
        for index, link in enumerate(scan_links(html), first_index):
            url = destination(link.raw)
            reason = url_reason(url, rules)
            if reason is None and opted_out(link.attributes, rules):
                reason = OPTED_OUT
            label = self._label(link.attributes) if rules.label_attribute else None
            app = (
                reason is None
                and bool(rules.app_link_attributes)
                and is_app_link(link.attributes, rules)
            )
            tracked = self._track(url, index, label, ctx, app) if reason is None else None
            if tracked is None:  # left for its reason, or its tracked link is too long
                reason = reason or TOO_LONG
                reports.append(
                    LinkReport(index, link.start, link.raw, url, None, reason, label, lines)
                )
                continue
            parts += (html[copied : link.start], escape_attribute(tracked, link.quote))
            copied = link.end
            reports.append(
                LinkReport(index, link.start, link.raw, url, tracked, None, label, lines, app)
            )
        if not open_pixel:
            parts.append(html[copied:])
            return RewriteResult("".join(parts), tuple(reports))
        pixel_url = self.signer.open_url(
            Claims("", ctx.message_id, ctx.recipient_id, 0, ctx.sent_at)
        )
        at = _body_end(html, copied)
        parts += (html[copied:at], _pixel_tag(pixel_url), html[at:])
        return RewriteResult("".join(parts), tuple(reports), pixel_url)

    def rewrite_text(self, text: str, ctx: SendContext, first_index: int = 0) -> RewriteResult:
        parts: list[str] = []
        reports: list[LinkReport] = []
        copied = 0
        lines = _Lines(text)
        for index, found in enumerate(scan_urls(text), first_index):
            url = found.url
            reason = url_reason(url, self.rules)
            tracked = self._track(url, index, None, ctx) if reason is None else None
            if tracked is None:
                reason = reason or TOO_LONG
                reports.append(LinkReport(index, found.start, url, url, None, reason, None, lines))
                continue
            parts += (text[copied : found.start], tracked)
            copied = found.end
            reports.append(LinkReport(index, found.start, url, url, tracked, None, None, lines))
        parts.append(text[copied:])
        return RewriteResult("".join(parts), tuple(reports))

    def _track(
        self, url: str, index: int, label: str | None, ctx: SendContext, app: bool = False
    ) -> str | None:
        """The tracked link (under `/a/` for an app link), or None when it would be too
        long to be served."""
        claims = Claims(
            add_utm(url, ctx.utm), ctx.message_id, ctx.recipient_id, index, ctx.sent_at, label
        )
        tracked = self.signer.tracked_url(claims, app)
        return tracked if len(tracked) <= self.rules.max_link_length else None

    def _label(self, attributes: Mapping[str, str]) -> str | None:
        name = self.rules.label_attribute
        if name and name in attributes:
            return decode_attribute(attributes[name]).strip() or None
        return None


_BODY_CLOSE = re.compile(r"</body", re.IGNORECASE | re.ASCII)


def _pixel_tag(url: str) -> str:
    return (
        f'<img src="{escape_attribute(url, chr(34))}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">'
    )


def _body_end(html: str, after: int) -> int:
    """Where `</body>` starts (the last one, any case), or the end of the document."""
    starts = [m.start() for m in _BODY_CLOSE.finditer(html, after)]
    return starts[-1] if starts else len(html)


class _Lines:
    """Line and column of offsets into a text. The line starts are found on the first
    question: most callers never read a report's positions, and they cost nothing then."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None

    def position(self, offset: int) -> tuple[int, int]:
        starts = self._starts
        if starts is None:
            starts = self._starts = [0] + [m.end() for m in _NEWLINE.finditer(self.text)]
        line = bisect.bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1


_NEWLINE = re.compile("\n")
