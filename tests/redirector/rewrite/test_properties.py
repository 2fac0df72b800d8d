"""For any input the rewriter never raises and changes nothing but link values."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from redirector import KeyRing, LinkSigner, Rewriter, SendContext, verify
from redirector.links.keyring import SigningKey
from redirector.rewrite.link_rules import _AUTHORITY, _PLACEHOLDER, _hostname
from redirector.rewrite.text_scan import _PAIRS, _TRAILING, _trim

RING = KeyRing([SigningKey("01020304", b"p" * 32, 1)])
REWRITER = Rewriter(LinkSigner(RING, "https://t.example.net"))
CTX = SendContext("m-1", "r-1", 1_790_000_000, {"utm_source": "email"})

FRAGMENTS = st.sampled_from(
    [
        "<a", "<A", "<area", "<v:roundrect", " href", " HREF", "=", " = ", '"', "'", ">", "/>",
        "https://x.example/", "http://y.example/p?q=1", "&amp;", "&copy=", "&#38;", "&", "#",
        "mailto:a@b", "{{x}}", "<!--", "-->", "<!--[if mso]>", "<![endif]-->", "<![if !mso]>",
        "<script>", "</script>", "<style>", "</style>", "<title>", "</title>", " class=untracked",
        "\n", "\r\n", " ", "\t", "<", "</", "<!", "<?", "text", "\u00e9", "\udc80",
    ]
)  # fmt: skip
HTMLISH = st.lists(FRAGMENTS | st.text(max_size=5), max_size=60).map("".join)


@settings(max_examples=400)
@given(HTMLISH)
def test_html_rewrite_changes_only_link_values(html: str) -> None:
    result = REWRITER.rewrite_html(html, CTX)
    restored = result.body
    for link in result.tracked:
        assert link.tracked_url is not None
        assert restored.count(link.tracked_url) == 1
        restored = restored.replace(link.tracked_url, link.original, 1)
        claims = verify(link.tracked_url.rsplit("/c/", 1)[1], RING)
        assert claims.url.startswith(link.url.split("#")[0].split("?")[0])
    assert restored == html


@given(st.text())
def test_html_rewrite_never_raises_on_any_text(html: str) -> None:
    REWRITER.rewrite_html(html, CTX)


@given(st.lists(FRAGMENTS | st.text(max_size=8), max_size=40).map("".join))
def test_text_rewrite_changes_only_urls(text: str) -> None:
    result = REWRITER.rewrite_text(text, CTX)
    restored = result.body
    for link in result.tracked:
        assert link.tracked_url is not None
        restored = restored.replace(link.tracked_url, link.original, 1)
    assert restored == text


@given(
    st.lists(
        st.sampled_from(["http", "https", "HTTP", ":", "//", "/", "u", "@", "h.example", "[",
                         "::1", "]", ":8080", "?", "#", "é", ".", "%40", "x"]),
        max_size=12,
    ).map("".join)
)  # fmt: skip
def test_hostname_is_urlsplit_s(url: str) -> None:
    try:
        expected = urlsplit(url).hostname
    except ValueError:
        expected = None
    if _AUTHORITY.match(url) is None:
        expected = None  # no "scheme://": url_reason has said RELATIVE or NO_HOST before
    assert _hostname(url) == (expected or None) or (not expected and not _hostname(url))


# The placeholder pattern as it was before its `[[ … ]]` stopped searching runs of `[`
# again from each one (issue 11): it finds the same placeholders.
QUADRATIC_PLACEHOLDER = re.compile(
    r"\{\{|\}\}|\{%|%\}|<%|%>|\*\|[^|]*\|\*|%%[^%\s]+%%|\[\[[^\]]*\]\]"
)


@given(st.text(alphabet="[]x{}%*| ", max_size=24))
def test_placeholders_found_as_before(url: str) -> None:
    assert bool(_PLACEHOLDER.search(url)) == bool(QUADRATIC_PLACEHOLDER.search(url))


def quadratic_trim(url: str) -> str:
    """The trimming of a text URL's end as it was, slicing and counting for each character."""
    while url:
        last = url[-1]
        if last in _TRAILING or (last in _PAIRS and url.count(last) > url.count(_PAIRS[last])):
            url = url[:-1]
        else:
            break
    return url


@given(st.text(alphabet="a.,)(][}{!", max_size=24))
def test_text_url_ends_trimmed_as_before(url: str) -> None:
    assert _trim(url) == quadratic_trim(url)
