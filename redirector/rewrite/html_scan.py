"""Find the link attributes of an HTML document in one pass, touching nothing else.

The scanner follows the WHATWG tokenizer far enough to know, for every `<`, whether it
opens a tag and where that tag ends (a `>` inside a quoted value does not end it), and
which regions are not markup at all: comments, raw text (`<style>`, `<script>` …) and
RCDATA (`<title>`, `<textarea>`). Outlook's conditional comments (`<!--[if mso]> …
<![endif]-->`) are comments to a browser but markup to Outlook, so their insides are
scanned too. Only `href` on `<a>`, `<area>` and VML elements (`<v:roundrect>` …) is
reported; callers splice new values in by offset, so every other byte stays as it was.
Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The rest of a tag after its name, up to (not including) the closing `>`. Possessive so
# that no input backtracks; an unterminated quote runs to the end, as in a browser.
_ATTR_SRC = (
    r"[^\t\n\f\r />][^\t\n\f\r />=]*+"
    r"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    r"""(?:"[^"]*+(?:"|\Z)|'[^']*+(?:'|\Z)|[^\t\n\f\r >]++)?)?"""
)
# The first branch is the common ` name="value"`, a special case of the other two that the
# engine matches in one go.
_TAG_REST_SRC = (
    r"""(?:[\t\n\f\r ]++[a-zA-Z0-9_:-]++=(?:"[^"]*+"|'[^']*+')"""
    rf"|[\t\n\f\r /]++|{_ATTR_SRC})*+"
)
_ATTR = re.compile(
    r"([^\t\n\f\r />][^\t\n\f\r />=]*+)"
    r"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    r"""(?:"([^"]*+)"|'([^']*+)'|([^\t\n\f\r >]++))?)?"""
)
_COMMENT_END = re.compile(r"--!?>")


def _any_case(word: str) -> str:
    """`word` in any ASCII case, as character classes: in `re` they cost nothing, where
    a case-insensitive group makes each of the hundred tags of an email slower."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in word)


_CONDITIONAL_SRC = rf"\[{_any_case('if')}[\t\n\f\r ]"
_TEXT_ELEMENTS = ("script", "style", "xmp", "iframe", "noembed", "noframes", "title", "textarea")
# Link elements: the Python loop sees each. Grouped by first letter so that a tag name
# fails after one comparison.
_END = r"(?=[\t\n\f\r />]|\Z)"
_LINKS = "|".join(
    (
        rf"{_any_case('v')}:[^\t\n\f\r />]*+",
        rf"{_any_case('a')}(?:{_any_case('rea')})?{_END}",
    )
)
# Raw text and RCDATA: skipped in the regex engine up to `</name` and a delimiter, any
# case (where the input ends first, to the end); `<plaintext>` to the end.
_RAW_SRC = "|".join(
    [
        rf"<{_any_case(name)}{_END}{_TAG_REST_SRC}>"
        rf"(?:[^<]++|<(?!/{_any_case(name)}[\t\n\f\r />]))*+"
        for name in _TEXT_ELEMENTS
    ]
    + [rf"<{_any_case('plaintext')}{_END}{_TAG_REST_SRC}>[\s\S]*+"]
)
# Every element that no generic tag branch may take, grouped by first letter.
_SPECIAL = "|".join(
    (
        _LINKS,
        rf"{_any_case('s')}(?:{_any_case('cript')}|{_any_case('tyle')}){_END}",
        rf"{_any_case('t')}(?:{_any_case('itle')}|{_any_case('extarea')}){_END}",
        rf"{_any_case('iframe')}{_END}",
        rf"{_any_case('xmp')}{_END}",
        rf"{_any_case('n')}(?:{_any_case('oembed')}|{_any_case('oframes')}){_END}",
        rf"{_any_case('plaintext')}{_END}",
    )
)
# A conditional comment with nothing inside that could be a link (or another one):
# scanning its inside would find nothing, so it is skipped whole. Any `<a…`, `<v…` or
# `<!--` inside, and it is scanned as usual.
_PLAIN_CONDITIONAL_SRC = rf"<!--(?={_CONDITIONAL_SRC})(?:[^<-]++|<(?![aAvV]|!--)|-(?!-!?>))*+--!?>"
# Everything the loop need not see, skipped inside the regex engine (the branches start
# differently, so their order changes nothing but speed: most common first): text, other tags
# whole (quoted `>` included), end tags, raw text elements with their text, plain
# comments, declarations. It stops at a `<` that opens a link element, a conditional
# comment, or anything cut off by the end.
_SKIP_SRC = rf"""(?:
        [^<]++
      | </[a-zA-Z][^\t\n\f\r />]*+{_TAG_REST_SRC}>
      | <(?!(?:{_SPECIAL}))[a-zA-Z][^\t\n\f\r />]*+{_TAG_REST_SRC}>
      | {_RAW_SRC}
      | <(?![a-zA-Z!/?])
      | </>
      | </[^a-zA-Z>][^>]*+>
      | <!--(?:>|->|(?!{_CONDITIONAL_SRC})(?:[^-]++|-(?!-!?>))*+--!?>)
      | {_PLAIN_CONDITIONAL_SRC}
      | <!(?!--)[^>]*+>
      | <\?[^>]*+>
    )*+"""
# One match skips all that and, where it stops at a link's start tag, takes it whole.
_SKIP = re.compile(
    rf"{_SKIP_SRC}(?:<(?P<special>(?:{_LINKS}))(?P<rest>{_TAG_REST_SRC})>"
    rf"|<!--(?P<conditional>{_CONDITIONAL_SRC}))?",
    re.VERBOSE,
)


@dataclass(slots=True)  # not frozen: every link makes one, and frozen init is slow
class LinkAttribute:
    """The `href` of one link element, as written in the source."""

    tag: str  # lowercased element name
    start: int  # offset of the value (inside the quotes, if any)
    end: int
    quote: str  # '"', "'" or "" (unquoted or no value)
    raw: str  # the value as written, entities not decoded
    attributes: dict[str, str]  # every attribute of the element, lowercased names, raw values


def scan_links(html: str) -> list[LinkAttribute]:
    links: list[LinkAttribute] = []
    skip = _SKIP.match
    pos, endpos = 0, len(html)
    # For each conditional comment being scanned, innermost last: where to resume after
    # it and the limit that applied before. Its inside is scanned in place, with `endpos`
    # cut to where a browser's comment ends.
    enclosing: list[tuple[int, int]] = []
    # The first `-->` (or `--!>`) at or after the last conditional comment's start: the
    # next one starts later, so the answer holds for it unless it starts past that
    # `-->`. Nested or unterminated conditional comments would each search the same
    # text again (quadratic time) if it were not kept.
    close_start = close_end = -1
    while True:
        skipped = skip(html, pos, endpos)
        assert skipped is not None  # the pattern matches the empty string
        pos = skipped.end()
        special, _, conditional = skipped.groups()
        if special is not None:
            link = _link_attribute(html, special.lower(), skipped.start(2), pos - 1)
            if link is not None:
                links.append(link)
        elif conditional is not None:
            start = skipped.start("conditional")
            if start > close_start:
                close = _COMMENT_END.search(html, start)
                close_start, close_end = close.span() if close else (len(html) + 1,) * 2
            if close_end > endpos:
                enclosing.append((endpos, endpos))
            else:
                enclosing.append((close_end, endpos))
                endpos = close_start
            pos = start
            continue
        else:
            # What the skip pattern stops at and cannot take is cut off by the end: a tag
            # (dropped whole by a browser), a comment or a declaration with no close.
            pos = endpos
        if pos >= endpos:
            if not enclosing:
                return links
            pos, endpos = enclosing.pop()


def _link_attribute(html: str, tag: str, start: int, close: int) -> LinkAttribute | None:
    attributes: dict[str, str] = {}
    href: LinkAttribute | None = None
    for a in _ATTR.finditer(html, start, close):
        name, dq, sq, uq = a.groups()
        attr = name.lower()
        if attr in attributes:
            continue  # a browser keeps the first of duplicate attributes
        raw = dq if dq is not None else sq if sq is not None else uq if uq is not None else ""
        attributes[attr] = raw
        if attr == "href":
            if dq is not None:
                quote, v_start = '"', a.start(2)
            elif sq is not None:
                quote, v_start = "'", a.start(3)
            elif uq is not None:
                quote, v_start = "", a.start(4)
            else:
                quote, v_start = "", a.end()
            href = LinkAttribute(tag, v_start, v_start + len(raw), quote, raw, attributes)
    return href
