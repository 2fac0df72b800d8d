"""An app link's answer to its app: `/a/<token>` asked for JSON. Pure.

An app opened by a universal link (iOS) or an App Link (Android) holds the tracked
URL, not the destination. It resolves it either with redirects off (the 302's
`Location`: the click is recorded as a browser's) or with `Accept: application/json`,
answered 200 `{"url": "<destination>"}` and recorded with `source` = `app`. Only a
request that prefers JSON to HTML gets it: a browser's Accept (`text/html, …, */*`)
never does, so in a browser `/a/` is `/c/`.
"""

from __future__ import annotations

import json
import math

JSON_HEADERS = {
    "Cache-Control": "no-store, private",
    "Referrer-Policy": "no-referrer",
    "Vary": "Accept",
}
_JSON = "application/json"
_HTML = frozenset({"text/html", "application/xhtml+xml"})


def wants_json(accept: str) -> bool:
    """Whether an Accept value (every Accept header, joined by commas) names
    `application/json` itself (not by `*/*`) with a weight above 0 and at least that of
    HTML (RFC 9110 §12.5.1)."""
    if "json" not in accept.lower():
        return False  # a browser's: no need to read it further
    json_q = html_q = 0.0
    for media_range in accept.split(","):
        media, _, params = media_range.partition(";")
        media = media.strip().lower()
        if media != _JSON and media not in _HTML:
            continue
        q = _weight(params)
        if media == _JSON:
            json_q = max(json_q, q)
        else:
            html_q = max(html_q, q)
    return json_q > 0 and json_q >= html_q


def _weight(params: str) -> float:
    """A media range's q (1 when absent); 0 for one that is no number from 0 to 1."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if math.isfinite(q) and 0 <= q <= 1 else 0.0
    return 1.0


def json_body(url: str) -> bytes:
    """`{"url": …}`; a byte that was not UTF-8 in the email (a lone surrogate) as its
    JSON escape, so that the body is always valid UTF-8."""
    return json.dumps({"url": url}).encode("ascii")
