"""Find the http(s) URLs of a plain-text body. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

# `<https://…>` (RFC 3986 appendix C) is delimited by its brackets; a bare URL ends at
# white space, and punctuation that ends its sentence is trimmed afterwards.
_URL = re.compile(r"<(https?://[^\s<>]++)>|(https?://[^\s<>\"]++)", re.IGNORECASE)
_TRAILING = ".,;:!?'\"*"
_PAIRS = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True, slots=True)
class TextUrl:
    start: int
    end: int
    url: str


def scan_urls(text: str) -> list[TextUrl]:
    found = []
    for m in _URL.finditer(text):
        if m.group(1) is not None:
            found.append(TextUrl(m.start(1), m.end(1), m.group(1)))
            continue
        url = _trim(m.group(2))
        if "://" in url and len(url) > url.index("://") + 3:
            found.append(TextUrl(m.start(2), m.start(2) + len(url), url))
    return found


def _trim(url: str) -> str:
    # Counted once, not per character trimmed: a URL may end in a million `)`.
    unmatched: dict[str, int] | None = None
    end = len(url)
    while end:
        last = url[end - 1]
        if last in _TRAILING:
            end -= 1
            continue
        if last not in _PAIRS:
            break
        if unmatched is None:
            unmatched = {c: url.count(c) - url.count(o) for c, o in _PAIRS.items()}
        if unmatched[last] <= 0:
            break
        unmatched[last] -= 1  # `(see https://x.org/a)` — the bracket is the sentence's
        end -= 1
    return url[:end]
