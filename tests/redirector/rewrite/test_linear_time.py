"""Rewriting time grows linearly with the input, whatever its shape (issue 11).

Each shape below repeats a hostile unit (unterminated and nested comments, conditional
comments, tag soup, unterminated attributes, long attribute lists, link values that
regexes could backtrack on …) to a given size. Time per byte at 8n may not exceed
`GROWTH` times that at n: quadratic time makes it about 8. Times are the process's CPU
time, best of a few runs, interleaved, so that other work on the machine counts little.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redirector import KeyRing, LinkSigner, Rewriter, SendContext
from redirector.links.keyring import SigningKey
from redirector.rewrite import RewriteResult
from tests.redirector.rewrite.test_properties import FRAGMENTS

RING = KeyRing([SigningKey("01020304", b"p" * 32, 1)])
REWRITER = Rewriter(LinkSigner(RING, "https://t.example.net"))
CTX = SendContext("01JDQ8Z6W3V9R2K4M5N6P7Q8RS", "rcpt-42", 1_790_000_000, {"utm_source": "email"})
GROWTH = 3.0
SMALL, LARGE, MEGABYTE = 64 << 10, 512 << 10, 1 << 20
MEGABYTE_SECONDS = 2.0  # generous: the machine is shared; a quadratic shape takes minutes

Shape = Callable[[int], str]


def repeated(unit: str, prefix: str = "", suffix: str = "") -> Shape:
    """`prefix`, then `unit` as often as fits in `size` characters, then `suffix`."""

    def body(size: int) -> str:
        return prefix + unit * max(1, (size - len(prefix) - len(suffix)) // len(unit)) + suffix

    return body


LINK = '<a href="https://x.example/p">'
HTML_SHAPES: dict[str, Shape] = {
    # conditional comments: opened and never closed, nested, with links inside
    "conditional_openers": repeated("<!--[if mso]>"),
    "conditional_openers_with_links": repeated(f"<!--[if mso]>{LINK}"),
    "conditional_openers_closed_once": repeated("<!--[if mso]>", suffix=f"{LINK}<![endif]-->"),
    "conditional_openers_dash": repeated("<!--[if mso]>-"),
    "conditional_openers_lt": repeated("<!--[if mso]><"),
    "conditional_almost_closed": repeated("<!--[if mso]><![endif]--"),
    "conditional_closed": repeated(f"<!--[if mso]>{LINK}x</a><![endif]-->"),
    "downlevel_revealed": repeated(f"<![if !mso]>{LINK}"),
    # comments
    "comment_openers": repeated("<!--"),
    "comment_almost_closed": repeated("<!-- a -"),
    "comments_in_a_conditional": repeated("<!-- x ", prefix="<!--[if mso]>"),
    # tag soup
    "tag_soup": repeated("<div<a<b <p"),
    "lt": repeated("<"),
    "lt_bang": repeated("<!"),
    "lt_question": repeated("<?"),
    "end_tag_openers": repeated("</"),
    "bogus_end_tags": repeated("</1"),
    "link_openers": repeated("<a"),
    "link_openers_space": repeated("<a "),
    "vml_openers": repeated("<v:"),
    "vml_long_name": repeated("r", prefix="<v:"),
    "script_never_closed": repeated("</scrip", prefix="<script>"),
    "script_openers": repeated("<script>"),
    "title_openers": repeated("<title x"),
    "plaintext": repeated("<a href=x>", prefix="<plaintext>"),
    # unterminated attributes
    "unterminated_double_quote": repeated('<a href="'),
    "unterminated_single_quote": repeated("<a href='"),
    "unterminated_equals": repeated("<a href="),
    "unterminated_unquoted": repeated("<a href=x"),
    "unterminated_other_tag": repeated('<div x="'),
    # long attribute lists
    "long_attribute_list": repeated(" x=1", prefix="<a", suffix=' href="https://x.example/">'),
    "long_quoted_attribute_list": repeated(' x="1"', prefix="<a", suffix=' href="https://x/">'),
    "long_bare_attribute_list": repeated(" x", prefix="<a", suffix=">"),
    "long_other_tag_attributes": repeated(" x=1", prefix="<div", suffix=">"),
    "duplicate_hrefs": repeated(' href="https://x.example/"', prefix="<a", suffix=">"),
    "long_class_list": repeated("x ", prefix='<a class="', suffix='" href="https://x.example/">'),
    # one huge link value
    "ampersands": repeated("&", prefix='<a href="https://x.example/', suffix='">'),
    "ampersand_long_name": repeated("a", prefix='<a href="https://x.example/&', suffix='">'),
    "amp_without_semicolon": repeated("&amp", prefix='<a href="https://x.example/', suffix='">'),
    "copy_without_semicolon": repeated("&copy", prefix='<a href="https://x.example/', suffix='">'),
    "numeric_reference_openers": repeated("&#", prefix='<a href="https://x.example/', suffix='">'),
    "numeric_reference_digits": repeated("1", prefix='<a href="https://x.example/&#', suffix='">'),
    "hex_reference_digits": repeated("f", prefix='<a href="https://x.example/&#x', suffix='">'),
    "label_reference_digits": repeated("9", prefix='<a data-link-label="&#', suffix='" href=x:>'),
    "placeholder_brackets": repeated("[", prefix='<a href="https://x.example/', suffix='">'),
    "placeholder_stars": repeated("*|", prefix='<a href="https://x.example/', suffix='">'),
    "placeholder_percents": repeated("%%", prefix='<a href="https://x.example/', suffix='">'),
    "long_path": repeated("a", prefix='<a href="https://x.example/', suffix='">'),
    "long_query": repeated("a=1&", prefix='<a href="https://x.example/?', suffix='">'),
    "long_host": repeated("a", prefix='<a href="https://', suffix='">'),
    "long_userinfo": repeated("@", prefix='<a href="https://', suffix='">'),
    "long_scheme": repeated("a", prefix='<a href="', suffix=':x">'),
    "bracketed_host": repeated("[", prefix='<a href="https://[', suffix='">'),
    # many links
    "links": repeated(LINK),
    "short_links": repeated("<a href=http://x.y>"),
    "labelled_links": repeated("<a data-link-label=x href=http://x.y>"),
    "body_ends": repeated("</body"),
}
TEXT_SHAPES: dict[str, Shape] = {
    "urls": repeated("https://x.example/ "),
    "trailing_dots": repeated(".", prefix="https://x.example/"),
    "trailing_brackets": repeated(")", prefix="https://x.example/"),
    "trailing_mixed": repeated(".)", prefix="https://x.example/"),
    "balanced_brackets": repeated("()", prefix="https://x.example/", suffix=")))"),
    "angle_openers": repeated("<https://a"),
    "angle_never_closed": repeated("a", prefix="<https://"),
    "scheme_openers": repeated("https://"),
    "almost_schemes": repeated("https:/"),
    "placeholder_brackets": repeated("[", prefix="https://x.example/"),
}


def rewrite_html(body: str) -> RewriteResult:
    return REWRITER.rewrite_html(body, CTX, open_pixel=True)


def rewrite_text(body: str) -> RewriteResult:
    return REWRITER.rewrite_text(body, CTX)


def cpu_seconds(rewrite: Callable[[str], object], body: str) -> float:
    start = time.process_time()
    rewrite(body)
    return time.process_time() - start


def growth(rewrite: Callable[[str], object], shape: Shape, small: int, large: int) -> float:
    """Time per byte at `large` over that at `small`: best runs, interleaved; more runs
    only while the ratio is over the bound (noise only ever adds time)."""
    bodies = shape(small), shape(large)
    best = [float("inf"), float("inf")]
    ratio = float("inf")
    for _ in range(5):
        for i, body in enumerate(bodies):
            best[i] = min(best[i], cpu_seconds(rewrite, body) / len(body))
        ratio = best[1] / max(best[0], 1e-12)
        if ratio < GROWTH:
            break
    return ratio


@pytest.mark.parametrize("name", HTML_SHAPES)
def test_html_time_per_byte_stays_flat(name: str) -> None:
    assert growth(rewrite_html, HTML_SHAPES[name], SMALL, LARGE) < GROWTH


@pytest.mark.parametrize("name", TEXT_SHAPES)
def test_text_time_per_byte_stays_flat(name: str) -> None:
    assert growth(rewrite_text, TEXT_SHAPES[name], SMALL, LARGE) < GROWTH


def test_a_megabyte_of_any_shape_is_rewritten_in_well_under_a_second() -> None:
    slow = {}
    for kind, rewrite, shapes in (
        ("html", rewrite_html, HTML_SHAPES),
        ("text", rewrite_text, TEXT_SHAPES),
    ):
        for name, shape in shapes.items():
            seconds = cpu_seconds(rewrite, shape(MEGABYTE))
            if seconds >= MEGABYTE_SECONDS:
                slow[f"{kind}:{name}"] = round(seconds, 2)
    assert slow == {}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAGMENTS, min_size=1, max_size=12).map("".join))
def test_any_repeated_fragments_take_linear_time(unit: str) -> None:
    shape = repeated(unit)
    assert growth(rewrite_html, shape, 16 << 10, 128 << 10) < GROWTH
    assert growth(rewrite_text, shape, 16 << 10, 128 << 10) < GROWTH
