"""Every email of the shared corpus: byte-exact, every link signed, none missed."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from pathlib import Path

import pytest

from redirector import KeyRing, Rewriter, SendContext, verify
from redirector.rewrite.entities import escape_attribute
from tests.support.corpus import corpus_dir, corpus_files


class LinkOracle(HTMLParser):
    """The standard library's parser, as an independent view of where links are."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("a", "area") or tag.startswith("v:"):
            for name, value in attrs:
                if name == "href":
                    self.hrefs.append(value or "")
                    break

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data: str) -> None:
        if data.lower().startswith("[if "):  # Outlook reads inside conditional comments
            inner = LinkOracle()
            inner.feed(data)
            inner.close()
            self.hrefs += inner.hrefs


def oracle_hrefs(text: str) -> list[str]:
    parser = LinkOracle()
    parser.feed(text)
    parser.close()
    return parser.hrefs


FILES = corpus_files()
# `http://` with no host is no link; the rest would be tracked but for a rule.
NOT_MISSED = {None, "placeholder", "already_tracked", "opted_out", "no_host"}


def test_corpus_is_there() -> None:
    assert len(FILES) >= 100, corpus_dir()


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(corpus_dir())))
def test_corpus_email(path: Path, rewriter: Rewriter, ring: KeyRing, ctx: SendContext) -> None:
    original = path.read_bytes().decode("utf-8", "surrogateescape")
    result = rewriter.rewrite_html(original, ctx)

    restored = result.body
    for link in result.tracked:
        assert link.tracked_url is not None
        quote = original[link.offset - 1] if original[link.offset - 1] in "\"'" else ""
        written = escape_attribute(link.tracked_url, quote)
        assert restored.count(written) == 1
        restored = restored.replace(written, link.original, 1)
    assert restored.encode("utf-8", "surrogateescape") == path.read_bytes()

    for link in result.tracked:
        assert link.tracked_url is not None
        claims = verify(link.tracked_url.rsplit("/c/", 1)[1], ring)
        assert claims.url == link.url
        assert (claims.message_id, claims.recipient_id) == (ctx.message_id, ctx.recipient_id)
        assert claims.link_index == link.index

    expected = oracle_hrefs(original)
    assert [html.unescape(link.original) for link in result.links] == expected
    for link, value in zip(result.links, expected, strict=True):
        if value.strip().lower().startswith(("http://", "https://")):
            assert link.reason in NOT_MISSED, (link.reason, value)


def test_corpus_has_what_the_cases_need(rewriter: Rewriter, ctx: SendContext) -> None:
    reasons: set[str | None] = set()
    for path in FILES:
        result = rewriter.rewrite_html(path.read_text("utf-8", "surrogateescape"), ctx)
        reasons |= {link.reason for link in result.links}
    assert {None, "mailto", "fragment", "relative", "placeholder"} <= reasons


def test_vml_buttons_in_conditional_comments_are_tracked(
    rewriter: Rewriter, ctx: SendContext
) -> None:
    body = (corpus_dir() / "rendered-mailgen" / "cerberus.html").read_text("utf-8")
    assert "<v:roundrect" in body
    assert 'href="https://mailgen.js' in body
    result = rewriter.rewrite_html(body, ctx)
    assert 'href="https://mailgen.js' not in result.body
    assert "<v:roundrect" in result.body
