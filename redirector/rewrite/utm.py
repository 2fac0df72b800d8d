"""Campaign parameters added to a destination before it is signed. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote_plus, unquote_plus


def add_utm(url: str, params: Mapping[str, str]) -> str:
    """`url` with each of `params` appended, unless the query already names it."""
    if not params:
        return url
    base, hash_, fragment = url.partition("#")
    path, _qmark, query = base.partition("?")
    present = {unquote_plus(pair.partition("=")[0]) for pair in query.split("&") if pair}
    added = [
        f"{quote_plus(name)}={quote_plus(value)}"
        for name, value in params.items()
        if name not in present
    ]
    if not added:
        return url
    joined = "&".join(([query] if query else []) + added)
    return f"{path}?{joined}{hash_}{fragment}"
