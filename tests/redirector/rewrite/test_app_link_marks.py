"""Links marked to open in the sender's app (`universal="true"`, `data-app-link`) are
signed under `/a/`; the mark stays byte for byte, and so does every other byte."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from config import RewriteSettings, load_settings
from redirector import KeyRing, LinkRules, LinkSigner, Rewriter, SendContext, verify
from tests.proxy.cli.test_cli import trackway

TRACKED = re.compile(r"https://t\.example\.net/([ac])/([A-Za-z0-9_-]+)")


def rewritten(rewriter: Rewriter, ctx: SendContext, tag: str) -> tuple[str, str]:
    """The prefix (`a` or `c`) the one link of `<tag>` got, and the body with its
    tracked link put back as it was."""
    html = f'<p>Hi</p>{tag}Open</a>\n<a href="https://b.example/">plain</a>'
    result = rewriter.rewrite_html(html, ctx)
    first, second = result.links
    assert first.tracked_url is not None
    assert second.tracked_url is not None
    assert TRACKED.fullmatch(second.tracked_url)[1] == "c"  # type: ignore[index]
    match = TRACKED.fullmatch(first.tracked_url)
    assert match is not None
    assert first.app_link == (match[1] == "a")
    restored = result.body.replace(first.tracked_url, first.original, 1)
    restored = restored.replace(second.tracked_url, second.original, 1)
    assert restored == html  # every other byte, the marking attribute included
    return match[1], result.body


@pytest.mark.parametrize(
    ("tag", "prefix"),
    [
        ('<a universal="true" href="https://app.example/item/1">', "a"),
        ("<a href='https://app.example/item/1' universal='TRUE'>", "a"),
        ("<a universal=true href=https://app.example/item/1>", "a"),
        ('<a UNIVERSAL href="https://app.example/item/1">', "a"),
        ('<a data-app-link href="https://app.example/item/1">', "a"),
        ('<a data-app-link="" href="https://app.example/item/1">', "a"),
        ('<a DATA-APP-LINK="yes" href="https://app.example/item/1">', "a"),
        ('<v:roundrect data-app-link href="https://app.example/item/1">', "a"),
        # Not marked: "false" (any case, any spacing), or no mark at all.
        ('<a universal="false" href="https://app.example/item/1">', "c"),
        ('<a universal=" False " href="https://app.example/item/1">', "c"),
        ('<a data-app-link="false" href="https://app.example/item/1">', "c"),
        ('<a universal="0" href="https://app.example/item/1">', "c"),
        ('<a data-universal="true" href="https://app.example/item/1">', "c"),
        ('<a href="https://app.example/item/1">', "c"),
    ],
)
def test_marked_links_are_signed_under_a(
    rewriter: Rewriter, ctx: SendContext, ring: KeyRing, tag: str, prefix: str
) -> None:
    got, body = rewritten(rewriter, ctx, tag)
    assert got == prefix
    # The same token as a /c/ link's: the path's prefix only selects the answer.
    token = TRACKED.search(body)[2]  # type: ignore[index]
    assert verify(token, ring).url == "https://app.example/item/1"


def test_a_marked_link_that_opts_out_stays_untracked(rewriter: Rewriter, ctx: SendContext) -> None:
    html = '<a universal="true" data-no-track href="https://app.example/">x</a>'
    result = rewriter.rewrite_html(html, ctx)
    assert result.body == html
    assert (result.links[0].reason, result.links[0].app_link) == ("opted_out", False)


def test_the_setting_names_the_attributes(ring: KeyRing, ctx: SendContext, tmp_path: Path) -> None:
    assert RewriteSettings().app_link_attributes == ("universal", "data-app-link")
    toml = tmp_path / "t.toml"
    toml.write_text('[rewrite]\napp_link_attributes = ["data-open-in-app"]\n')
    assert load_settings(toml).rewrite.app_link_attributes == ("data-open-in-app",)
    rules = LinkRules.from_settings(RewriteSettings(app_link_attributes=("Data-Open-In-App",)), [])
    rewriter = Rewriter(LinkSigner(ring, "https://t.example.net"), rules)
    assert rewritten(rewriter, ctx, '<a data-open-in-app href="https://x.example/">')[0] == "a"
    assert rewritten(rewriter, ctx, '<a universal="true" href="https://x.example/">')[0] == "c"
    none = Rewriter(
        LinkSigner(ring, "https://t.example.net"),
        LinkRules.from_settings(RewriteSettings(app_link_attributes=()), []),
    )
    assert rewritten(none, ctx, '<a data-app-link href="https://x.example/">')[0] == "c"


def test_text_links_have_no_mark_and_stay_c(rewriter: Rewriter, ctx: SendContext) -> None:
    result = rewriter.rewrite_text('Open universal="true" https://app.example/item/1 now', ctx)
    (link,) = result.tracked
    assert link.tracked_url is not None
    assert "/c/" in link.tracked_url
    assert link.app_link is False


def test_the_report_says_which_links_are_app_links(tmp_path: Path) -> None:
    body = (
        b'<a universal="true" href="https://app.example/1">app</a>'
        b'<a universal="false" href="https://app.example/2">web</a>'
        b'<a data-app-link href="mailto:x@example.com">mail</a>'
    )
    report = tmp_path / "report.json"
    done = trackway(
        "rewrite", "-", "--base-url", "https://t.example.net", "--report", str(report),
        data=tmp_path / "data", stdin=body,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(b"https://t.example.net/a/") == 1
    assert done.stdout.count(b"https://t.example.net/c/") == 1
    assert b'universal="true"' in done.stdout
    assert b'universal="false"' in done.stdout
    doc = json.loads(report.read_text("utf-8"))
    assert doc["app_links"] == 1
    assert [(link["app_link"], link["reason"]) for link in doc["links"]] == [
        (True, None),
        (False, None),
        (False, "mailto"),
    ]
    assert "/a/" in doc["links"][0]["tracked_url"]
