"""App links: a tracking host's association files for iOS universal links
(`apple-app-site-association`) and Android App Links (`assetlinks.json`).

`apple_document` and `android_document` validate what a user gives (the CLI's files,
the admin API's JSON) and give the text served: compact JSON, the same whatever the
spelling given. `app_links_of` and `put_app_links` read and write them in the domain
store (`store.AppLinks`, two columns of the host's row); the running server picks a
change up with the proxied hosts (`proxy_routes.LiveRoutes`) and serves them at
`routing.APP_LINK_PATHS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from config.errors import InvalidInput
from proxy.domains.errors import UnknownDomain
from proxy.domains.names import normalise
from proxy.domains.store import AppLinks, DomainStore, TrackingHost

# Apple's CDN refuses a larger file (developer.apple.com, "Supporting associated domains").
MAX_APPLE_BYTES = 128 * 1024
# Google documents no limit; a statement list this long is a mistake, and every worker
# holds each host's file in memory.
MAX_ANDROID_BYTES = 512 * 1024
APPLE_FILE = "apple-app-site-association"
ANDROID_FILE = "assetlinks.json"


class InvalidAppLinks(InvalidInput):
    """An association file that is not one: not JSON, the wrong shape, too big."""


def parse_json(data: bytes, where: str) -> Any:
    """The JSON value of a file's bytes (UTF-8, a BOM allowed); InvalidAppLinks naming
    `where` and the reason."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidAppLinks(
            f"{where}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})"
        ) from None
    return _loads(text, where)


def _loads(text: str, where: str) -> Any:
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise InvalidAppLinks(f"{where}: not valid JSON: {e}") from None
    except ValueError as e:  # NaN, Infinity: Python's, not JSON
        raise InvalidAppLinks(f"{where}: not valid JSON: {e}") from None
    except RecursionError:
        raise InvalidAppLinks(f"{where}: nested too deeply") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def apple_document(doc: Any, where: str) -> str:
    """The `apple-app-site-association` served for `doc`: a JSON object (`applinks`,
    `webcredentials`, `appclips` …) of at most 128 KB."""
    if not isinstance(doc, dict):
        raise InvalidAppLinks(
            f"{where}: an {APPLE_FILE} file is a JSON object "
            f'({{"applinks": {{"details": [...]}}}}), not {_kind(doc)}'
        )
    return _served(doc, where, MAX_APPLE_BYTES, f"Apple's limit for {APPLE_FILE}")


def android_document(doc: Any, where: str) -> str:
    """The `assetlinks.json` served for `doc`: a JSON array of statements (objects)."""
    if not isinstance(doc, list):
        raise InvalidAppLinks(
            f"{where}: an {ANDROID_FILE} file is a JSON array of statements "
            f'([{{"relation": [...], "target": {{...}}}}]), not {_kind(doc)}'
        )
    for number, statement in enumerate(doc, 1):
        if not isinstance(statement, dict):
            raise InvalidAppLinks(
                f"{where}: statement {number} of {ANDROID_FILE} is {_kind(statement)}, "
                "not a JSON object"
            )
    return _served(doc, where, MAX_ANDROID_BYTES, f"trackway's limit for {ANDROID_FILE}")


def apple_file(data: bytes, where: str) -> str:
    """`apple_document` of a file's bytes, refused before parsing when too big."""
    _fits(len(data), where, MAX_APPLE_BYTES, f"Apple's limit for {APPLE_FILE}")
    return apple_document(parse_json(data, where), where)


def android_file(data: bytes, where: str) -> str:
    _fits(len(data), where, MAX_ANDROID_BYTES, f"trackway's limit for {ANDROID_FILE}")
    return android_document(parse_json(data, where), where)


def _served(doc: Any, where: str, limit: int, whose: str) -> str:
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate escaped in the JSON given
        raise InvalidAppLinks(f"{where}: holds a lone surrogate (\\udXXX), not text") from None
    _fits(size, where, limit, whose)
    return text


def _fits(size: int, where: str, limit: int, whose: str) -> None:
    if size > limit:
        raise InvalidAppLinks(
            f"{where}: {size} bytes, over {whose}: {limit} bytes ({limit // 1024} KB)"
        )


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "true or false"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def from_request(body: Any) -> AppLinks:
    """The admin API's `{"apple": {...} | null, "android": [...] | null}` (a key left out
    is null: PUT replaces both)."""
    if not isinstance(body, dict) or set(body) - {"apple", "android"}:
        raise InvalidAppLinks(
            'expected JSON: {"apple": {"applinks": ...} | null, "android": [...] | null}'
        )
    apple, android = body.get("apple"), body.get("android")
    return AppLinks(
        None if apple is None else apple_document(apple, '"apple"'),
        None if android is None else android_document(android, '"android"'),
    )


def from_form(apple: str, android: str) -> AppLinks:
    """The admin page's two textareas (an empty one: not served; both are replaced, as
    the API's PUT does). Checked by the size of the file served, not of the text given:
    the page fills the textareas indented, so a stored file saved again unchanged fits."""
    return AppLinks(
        _document(apple, APPLE_FILE, apple_document),
        _document(android, ANDROID_FILE, android_document),
    )


def _document(text: str, where: str, check: Callable[[Any, str], str]) -> str | None:
    return check(_loads(text, where), where) if text.strip() else None


def request_json(text: str) -> Any:
    """A request body as JSON, strictly (no NaN)."""
    return _loads(text, "request body")


def as_dict(host: str, links: AppLinks) -> dict[str, Any]:
    """What the API and `domains app-links --json` say: the files as JSON values."""
    return {
        "host": host,
        "apple": None if links.apple is None else json.loads(links.apple),
        "android": None if links.android is None else json.loads(links.android),
    }


def app_links_of(store: DomainStore, name: str) -> TrackingHost:
    """The tracking host `name` (with its `app_links`); UnknownDomain if none."""
    host = store.host(normalise(name))
    if host is None:
        raise UnknownDomain(f"no tracking host {name}; add it with `trackway domains add`")
    return host


def put_app_links(store: DomainStore, name: str, links: AppLinks) -> TrackingHost:
    """Store a tracking host's files (`AppLinks()`: none); running servers serve them
    within seconds."""
    host = replace(app_links_of(store, name), app_links=links)
    store.put_app_links(host.host, links)
    return host
