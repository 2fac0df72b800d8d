"""The scanner against the hard cases a corpus of clean emails does not hold."""

from __future__ import annotations

import pytest

from redirector.rewrite.html_scan import scan_links


def hrefs(html: str) -> list[str]:
    return [link.raw for link in scan_links(html)]


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a href="https://a.example/">x</a>', ["https://a.example/"]),
        ('<A HREF="https://a.example/">x</A>', ["https://a.example/"]),
        ("<a href='https://a.example/'>", ["https://a.example/"]),
        ("<a href=https://a.example/?q=1>", ["https://a.example/?q=1"]),
        ('<a href = "https://a.example/" >', ["https://a.example/"]),
        ('<a\n\thref\n=\n"https://a.example/">', ["https://a.example/"]),
        (
            '<a href="https://first.example/" href="https://second.example/">',
            ["https://first.example/"],
        ),
        ('<a title="x > y" href="https://a.example/">', ["https://a.example/"]),
        (
            '<a title="<a href=https://no.example/>" href="https://yes.example/">',
            ["https://yes.example/"],
        ),
        ('<a data-href="https://no.example/">', []),
        ('<a hreflang="en" href="https://a.example/">', ["https://a.example/"]),
        ('<!-- <a href="https://no.example/"> -->', []),
        ('<!--> <a href="https://yes.example/">', ["https://yes.example/"]),
        ('<!---> <a href="https://yes.example/">', ["https://yes.example/"]),
        ('<!-- x --!> <a href="https://yes.example/">', ["https://yes.example/"]),
        (
            '<title><a href="https://no.example/"></title><a href="https://yes.example/">',
            ["https://yes.example/"],
        ),
        ('<style>a[href="https://no.example/"]{}</style>', []),
        (
            '<script>"<a href=https://no.example/>"</script ><a href="https://yes.example/">',
            ["https://yes.example/"],
        ),
        ("<SCRIPT>x</scriptx><a href=https://no.example/></SCRIPT>", []),
        ("<textarea><a href=https://no.example/></textarea>", []),
        (
            '<!--[if mso]><v:roundrect href="https://vml.example/" arcsize="10%"><![endif]-->',
            ["https://vml.example/"],
        ),
        (
            '<!--[if !mso]><!--><a href="https://a.example/"><!--<![endif]-->',
            ["https://a.example/"],
        ),
        ('<![if !mso]><a href="https://a.example/"><![endif]>', ["https://a.example/"]),
        ('<area shape=rect href="https://map.example/">', ["https://map.example/"]),
        ('<v:rect href="https://v.example/"/>', ["https://v.example/"]),
        ('<link href="https://fonts.example/css">', []),
        ('<base href="https://base.example/">', []),
        ('<img src="https://i.example/x.png">', []),
        ('<a href="https://a.example/"', []),  # cut off: a browser drops the tag
        ('<a href="https://a.example/>', []),  # unterminated quote runs to the end
        ("<a href>", [""]),
        ("<a href=>", [""]),
        (
            '</a href="https://no.example/"><a href="https://yes.example/">',
            ["https://yes.example/"],
        ),
        ('<? x ?><!DOCTYPE html><a/href="https://a.example/">', ["https://a.example/"]),
        ('<a"x="1" href="https://no.example/">', []),  # the tag name is `a"x="1"`
        ('<a href="https://a.example/"title="t">', ["https://a.example/"]),
        ("< a href='https://no.example/'>", []),
        ("<plaintext><a href='https://no.example/'>", []),
    ],
)
def test_finds_exactly_the_browser_links(html: str, expected: list[str]) -> None:
    assert hrefs(html) == expected


def test_offsets_point_at_the_value() -> None:
    html = "<p>\r\n<a class=x HREF='https://a.example/&amp;q'>"
    (link,) = scan_links(html)
    assert html[link.start : link.end] == "https://a.example/&amp;q"
    assert link.quote == "'"
    assert link.attributes == {"class": "x", "href": "https://a.example/&amp;q"}


def test_pathological_input_is_linear() -> None:
    # Many unclosed quotes and attribute-ish runs would make a backtracking pattern hang.
    html = "<a " + 'x="' * 20000 + "<a href=" * 20000
    assert hrefs(html) == []
    html = "<a " + "b" * 100000
    assert hrefs(html) == []


def test_nested_and_unclosed_conditional_comments() -> None:
    html = (
        '<!--[if mso]><a href="https://one.example/"><!--[if gte mso 9]>'
        '<v:rect href="https://two.example/"><![endif]-->'
        '<a href="https://three.example/">'
        '<!--[if mso]><a href="https://four.example/">'
    )
    # The first `-->` closes the outer comment as well; the last comment never closes.
    assert hrefs(html) == [
        "https://one.example/",
        "https://two.example/",
        "https://three.example/",
        "https://four.example/",
    ]


def test_conditional_comment_ends_at_the_first_close() -> None:
    html = '<!--[if mso]><a title="-->" href="https://no.example/"><![endif]--><a href=https://yes.example/>'
    assert hrefs(html) == ["https://yes.example/"]
