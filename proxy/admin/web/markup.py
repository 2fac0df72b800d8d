"""HTML from string templates, escaped by default. Pure.

Every value put into a template is escaped (`html.escape`, quotes too) unless it is
`Html`: markup made by `render` or `join` from escaped parts. A view never builds markup by
concatenating strings it was given, so a domain, label or URL cannot add tags.
"""

from __future__ import annotations

import html
import string
import time
from collections.abc import Iterable

__all__ = ["Html", "esc", "join", "page", "render", "utc", "when"]


class Html(str):
    """Markup that is already safe: inserted as it is."""

    __slots__ = ()


def esc(value: object) -> Html:
    """`value` as text in HTML (or an attribute's value in double quotes)."""
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


def render(template: str, **values: object) -> Html:
    """`template` with each `$name` replaced by its value, escaped unless it is `Html`.
    A name missing from `values` is a KeyError: a typo shows at once."""
    return Html(string.Template(template).substitute({k: esc(v) for k, v in values.items()}))


def join(parts: Iterable[Html], separator: str = "\n") -> Html:
    return Html(separator.join(esc(part) for part in parts))


def when(condition: object, markup: Html) -> Html:
    return markup if condition else Html("")


def utc(ts: float | None, never: str = "—") -> str:
    return never if ts is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title · trackway</title>
<link rel="stylesheet" href="/ui/static/admin.css">
<script src="/ui/static/admin.js" defer></script>
</head>
<body>
<header>
<span class="brand">trackway</span>
$nav
</header>
<main>
$notice
<h1>$title</h1>
$body
</main>
</body>
</html>
"""

_NAV = """<nav>
<a href="/ui/domains">Domains</a>
<a href="/ui/messages">Messages</a>
<form method="post" action="/ui/logout" class="inline">
<input type="hidden" name="csrf" value="$csrf">
<button type="submit">Log out</button>
</form>
</nav>"""


def page(title: str, body: Html, csrf: str | None = None, notice: str | None = None) -> Html:
    """A whole page; with `csrf` (a session's) the navigation and the logout form."""
    return render(
        _PAGE,
        title=title,
        body=body,
        nav=render(_NAV, csrf=csrf) if csrf is not None else Html(""),
        notice=render('<p class="notice" role="status">$n</p>', n=notice) if notice else Html(""),
    )
