from __future__ import annotations

import pytest

from config import RewriteSettings
from redirector import KeyRing, LinkRules, LinkSigner, Rewriter, SendContext, verify
from redirector.rewrite.entities import decode_attribute
from redirector.rewrite.utm import add_utm


def claims_of(url: str, ring: KeyRing) -> str:
    return verify(url.rsplit("/c/", 1)[1], ring).url


@pytest.fixture
def strict_rewriter(ring: KeyRing) -> Rewriter:
    rules = LinkRules.from_settings(RewriteSettings(), ["t.example.net", "old.example.net"])
    return Rewriter(LinkSigner(ring, "https://t.example.net"), rules)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("mailto:a@b.example", "mailto"),
        ("MAILTO:a@b.example", "mailto"),
        ("tel:+123", "tel"),
        ("sms:+123", "sms"),
        ("javascript:alert(1)", "javascript"),
        ("data:text/html,x", "data"),
        ("ftp://f.example/", "other_scheme"),
        ("#top", "fragment"),
        ("/relative/path", "relative"),
        ("//cdn.example/x", "relative"),
        ("", "empty"),
        ("   ", "empty"),
        ("https://{{ host }}/x", "placeholder"),
        ("https://a.example/{% url 'x' %}", "placeholder"),
        ("https://a.example/?e=*|EMAIL|*", "placeholder"),
        ("https://a.example/?e=%%email%%", "placeholder"),
        ("<%- link %>", "placeholder"),
        ("https://t.example.net/c/abc", "already_tracked"),
        ("https://OLD.example.net/c/abc", "already_tracked"),
        ("http://", "no_host"),
    ],
)
def test_left_alone_with_a_reason(
    strict_rewriter: Rewriter, ctx: SendContext, value: str, reason: str
) -> None:
    html = f'<a href="{value}">x</a>'
    result = strict_rewriter.rewrite_html(html, ctx)
    assert result.body == html
    assert [link.reason for link in result.links] == [reason]


@pytest.mark.parametrize(
    "tag",
    [
        '<a class="button untracked" href="https://a.example/">',
        '<a untracked href="https://a.example/">',
        '<a clicktracking=off href="https://a.example/">',
        '<a ClickTracking="OFF" href="https://a.example/">',
        '<a data-pm-no-track href="https://a.example/">',
        '<a href="https://a.example/" data-no-track="">',
    ],
)
def test_opted_out(strict_rewriter: Rewriter, ctx: SendContext, tag: str) -> None:
    result = strict_rewriter.rewrite_html(tag, ctx)
    assert result.body == tag
    assert result.links[0].reason == "opted_out"


def test_opt_out_set_is_configurable(ring: KeyRing, ctx: SendContext) -> None:
    settings = RewriteSettings(opt_out_attributes=("x-skip",), opt_out_classes=("nolink",))
    rewriter = Rewriter(
        LinkSigner(ring, "https://t.example.net"), LinkRules.from_settings(settings, [])
    )
    body = '<a x-skip href="https://a.example/"><a class=nolink href="https://b.example/"><a untracked href="https://c.example/">'
    result = rewriter.rewrite_html(body, ctx)
    assert [link.reason for link in result.links] == ["opted_out", "opted_out", None]


@pytest.mark.parametrize(
    ("html", "prefix", "suffix", "url"),
    [
        ('<A HREF="https://a.example/?x=1&amp;y=2">', '<A HREF="', '">', "https://a.example/?x=1&y=2"),
        ("<a href='https://a.example/?x=1&#38;y=2'>", "<a href='", "'>", "https://a.example/?x=1&y=2"),
        ("<a href=https://a.example/?q>", "<a href=", ">", "https://a.example/?q"),
        ('<a href="https://a.example/?a=1&section=2&copy=3&timestamp=4">', '<a href="', '">',
         "https://a.example/?a=1&section=2&copy=3&timestamp=4"),
        ('<a href="https://a.example/?a=1&copy;">', '<a href="', '">', "https://a.example/?a=1\u00a9"),
        ('<a href="\n  https://a.example/x\n  ">', '<a href="', '">', "https://a.example/x"),
        ('<a href="https://a.example/a\nb">', '<a href="', '">', "https://a.example/ab"),
        ('<a href="https://a.example/&quot;x">', '<a href="', '">', 'https://a.example/"x'),
    ],
)  # fmt: skip
def test_value_decoded_then_written_back_in_the_same_quotes(
    rewriter: Rewriter,
    ring: KeyRing,
    ctx: SendContext,
    html: str,
    prefix: str,
    suffix: str,
    url: str,
) -> None:
    result = rewriter.rewrite_html(html, ctx)
    assert result.body.startswith(prefix + "https://t.example.net/c/")
    assert result.body.endswith(suffix)
    (link,) = result.tracked
    assert link.url == url
    assert claims_of(link.tracked_url or "", ring) == url


def test_every_other_byte_stays(rewriter: Rewriter, ctx: SendContext) -> None:
    html = (
        "<!DOCTYPE html>\r\n<HTML><head><title>https://not.example/</title>"
        "<style>a { color: red }</style></head>\r\n"
        "<BODY  bgcolor=white>{{ unsubscribe }}<a   CLASS='x' HREF='https://a.example/'  >A</a>"
        "<!-- https://comment.example/ --><script>var u='<a href=\"https://s.example/\">'</script>"
        '<a href="https://b.example/">B</a></BODY></HTML>\r\n'
    )
    result = rewriter.rewrite_html(html, ctx)
    assert len(result.tracked) == 2
    restored = result.body
    for link in result.tracked:
        restored = restored.replace(link.tracked_url or "", link.original)
    assert restored == html


def test_report_positions(rewriter: Rewriter, ctx: SendContext) -> None:
    html = "<p>\n  <a href='mailto:x@y.example'>\n<a href=https://a.example/>"
    result = rewriter.rewrite_html(html, ctx)
    assert [(link.line, link.column, link.index) for link in result.links] == [
        (2, 12, 0),
        (3, 9, 1),
    ]
    doc = result.report()
    assert doc["links_found"] == 2
    assert doc["links_tracked"] == 1
    assert doc["links"][1]["position"] == "3:9"
    assert doc["links"][0]["reason"] == "mailto"


def test_label_attribute(rewriter: Rewriter, ring: KeyRing, ctx: SendContext) -> None:
    result = rewriter.rewrite_html(
        '<a data-link-label="Hero &amp; CTA" href="https://a.example/">', ctx
    )
    (link,) = result.tracked
    assert link.label == "Hero & CTA"
    assert verify((link.tracked_url or "").rsplit("/c/", 1)[1], ring).label == "Hero & CTA"


@pytest.mark.parametrize(
    ("url", "utm", "expected"),
    [
        ("https://a.example/", {"utm_source": "email"}, "https://a.example/?utm_source=email"),
        ("https://a.example/?x=1#top", {"utm_source": "email"}, "https://a.example/?x=1&utm_source=email#top"),
        ("https://a.example/?utm_source=news", {"utm_source": "email", "utm_medium": "mail"},
         "https://a.example/?utm_source=news&utm_medium=mail"),
        ("https://a.example/?utm_source=news", {"utm_source": "email"}, "https://a.example/?utm_source=news"),
        ("https://a.example/", {"utm_campaign": "black friday"}, "https://a.example/?utm_campaign=black+friday"),
        ("https://a.example/", {}, "https://a.example/"),
    ],
)  # fmt: skip
def test_utm_never_overrides(url: str, utm: dict[str, str], expected: str) -> None:
    assert add_utm(url, utm) == expected


def test_utm_is_signed_into_the_destination(rewriter: Rewriter, ring: KeyRing) -> None:
    ctx = SendContext("m", "r", 0, {"utm_source": "email"})
    result = rewriter.rewrite_html('<a href="https://a.example/p?utm_source=x&amp;k=1">', ctx)
    assert (
        claims_of(result.tracked[0].tracked_url or "", ring)
        == "https://a.example/p?utm_source=x&k=1"
    )
    result = rewriter.rewrite_html('<a href="https://a.example/p">', ctx)
    assert (
        claims_of(result.tracked[0].tracked_url or "", ring)
        == "https://a.example/p?utm_source=email"
    )


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("Visit https://a.example/x.", ["https://a.example/x"]),
        ("Is it https://a.example/x?", ["https://a.example/x"]),
        ("See (https://a.example/x) now", ["https://a.example/x"]),
        ("Wiki https://en.example/A_(b), ok", ["https://en.example/A_(b)"]),
        ("Angle <https://a.example/x.> form", ["https://a.example/x."]),
        ("HTTP://UP.EXAMPLE/ and http://b.example/?q=1&r=2!", ["HTTP://UP.EXAMPLE/", "http://b.example/?q=1&r=2"]),
        ("mailto:x@y.example and www.a.example", []),
        ("quoted \"https://a.example/q\"", ["https://a.example/q"]),
        ("https:// nothing", []),
    ],
)  # fmt: skip
def test_text_urls(
    rewriter: Rewriter, ring: KeyRing, ctx: SendContext, text: str, urls: list[str]
) -> None:
    result = rewriter.rewrite_text(text, ctx)
    assert [link.url for link in result.tracked] == urls
    restored = result.body
    for link in result.tracked:
        assert claims_of(link.tracked_url or "", ring) == link.url
        restored = restored.replace(link.tracked_url or "", link.original)
    assert restored == text


def test_text_numbering_continues_after_html(rewriter: Rewriter, ctx: SendContext) -> None:
    html = rewriter.rewrite_html('<a href="https://a.example/">', ctx)
    text = rewriter.rewrite_text("https://a.example/", ctx, first_index=len(html.links))
    assert text.links[0].index == 1


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("a&amp;b", "a&b"),
        ("a&ampb", "a&ampb"),
        ("a&amp", "a&"),
        ("?x&copy=1", "?x&copy=1"),
        ("?x&copy", "?x\u00a9"),
        ("&notit;", "&notit;"),
        ("&#x41;&#66&#0;&#x110000;&#xD800;&#128;", "AB\ufffd\ufffd\ufffd\u20ac"),
        ("&unknown;", "&unknown;"),
        ("&lt;&gt&quot;", '<>"'),
        ("&#" + "0" * 5000 + "65;&#x" + "0" * 5000 + "41;", "AA"),
        ("&#" + "9" * 5000 + ";&#x" + "f" * 5000 + ";", "\ufffd\ufffd"),  # not int()'s to refuse
    ],
)
def test_attribute_entities(raw: str, decoded: str) -> None:
    assert decode_attribute(raw) == decoded


def test_open_pixel_goes_before_the_body_end(
    rewriter: Rewriter, ring: KeyRing, ctx: SendContext
) -> None:
    html = "<html><BODY><p>x</p></BODY>\n</html>"
    result = rewriter.rewrite_html(html, ctx, open_pixel=True)
    assert result.open_pixel_url is not None
    assert "/o/" in result.open_pixel_url
    before, pixel_and_rest = result.body.split("<img ", 1)
    assert before == "<html><BODY><p>x</p>"
    assert pixel_and_rest.endswith("></BODY>\n</html>")
    claims = verify(result.open_pixel_url.rsplit("/o/", 1)[1], ring)
    assert (claims.url, claims.message_id, claims.recipient_id) == (
        "",
        ctx.message_id,
        ctx.recipient_id,
    )
    no_body = rewriter.rewrite_html("<p>fragment</p>", ctx, open_pixel=True)
    assert no_body.body.startswith("<p>fragment</p><img ")
