"""Campaign parameters added to a destination before it is signed. Pure."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from urllib.parse import quote_plus, unquote_plus


def add_utm(url: str, params: Mapping[str, str]) -> str:
    """`url` with each of `params` appended, unless the query already names it."""
    if not params:
        return url
    base, hash_, fragment = url.partition("#")
    path, _qmark, query = base.partition("?")
    pairs, all_pairs = _encoded(tuple(params.items()))
    if not query:
        return f"{path}?{all_pairs}{hash_}{fragment}"
    present = {unquote_plus(pair.partition("=")[0]) for pair in query.split("&") if pair}
    added = [pair for name, pair in pairs if name not in present]
    if not added:
        return url
    return f"{path}?{'&'.join([query, *added])}{hash_}{fragment}"


@functools.lru_cache(maxsize=64)  # one send's parameters recur in each of its links
def _encoded(params: tuple[tuple[str, str], ...]) -> tuple[tuple[tuple[str, str], ...], str]:
    """Each parameter's name with the `name=value` it adds, encoded; and all of them."""
    pairs = tuple((name, f"{quote_plus(name)}={quote_plus(value)}") for name, value in params)
    return pairs, "&".join(pair for _, pair in pairs)
