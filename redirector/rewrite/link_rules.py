"""Whether a link is tracked, and if not, why. Pure decisions over strings."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from config import RewriteSettings
from redirector.rewrite.entities import decode_attribute

# Reasons a link is left as it was (the report's `reason` values).
EMPTY = "empty"
FRAGMENT = "fragment"
RELATIVE = "relative"
PLACEHOLDER = "placeholder"
ALREADY_TRACKED = "already_tracked"
OPTED_OUT = "opted_out"
NO_HOST = "no_host"
TOO_LONG = "too_long"  # its tracked link would be longer than the click server serves
NAMED_SCHEMES = frozenset({"mailto", "tel", "sms", "javascript", "data"})
OTHER_SCHEME = "other_scheme"

_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
# `[[ … ]]` with no `]` inside; the inside stops at a `[[` too (a later start that finds
# the same `]]`), so that a run of `[` is not searched again from each of them.
_PLACEHOLDER = re.compile(
    r"\{\{|\}\}|\{%|%\}|<%|%>|\*\|[^|]*\|\*|%%[^%\s]+%%|\[\[(?:[^\[\]]++|\[(?!\[))*+\]\]"
)
# The URL parser drops C0 controls and spaces at both ends and tabs/newlines anywhere.
_URL_STRIP = "".join(chr(c) for c in range(0x21))
_URL_DROP = str.maketrans("", "", "\t\n\r")


@dataclass(frozen=True)
class LinkRules:
    own_hosts: frozenset[str] = frozenset()
    # (attribute, required value or None for mere presence), names lowercased
    opt_out_attributes: tuple[tuple[str, str | None], ...] = ()
    opt_out_classes: frozenset[str] = frozenset()
    label_attribute: str = ""
    app_link_attributes: tuple[str, ...] = ()  # lowercased names
    max_link_length: int = RewriteSettings.max_link_length
    _opt_out_names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = frozenset(name for name, _ in self.opt_out_attributes)
        object.__setattr__(self, "_opt_out_names", names | {"class"})

    @classmethod
    def from_settings(cls, rewrite: RewriteSettings, own_hosts: Iterable[str]) -> LinkRules:
        pairs = []
        for entry in rewrite.opt_out_attributes:
            name, sep, value = entry.partition("=")
            pairs.append((name.strip().lower(), value.strip().lower() if sep else None))
        return cls(
            own_hosts=frozenset(h.lower() for h in own_hosts),
            opt_out_attributes=tuple(pairs),
            opt_out_classes=frozenset(c.lower() for c in rewrite.opt_out_classes),
            label_attribute=rewrite.label_attribute.lower(),
            app_link_attributes=tuple(a.strip().lower() for a in rewrite.app_link_attributes),
            max_link_length=rewrite.max_link_length,
        )

    def with_hosts(self, hosts: Iterable[str]) -> LinkRules:
        return LinkRules(
            self.own_hosts | {h.lower() for h in hosts},
            self.opt_out_attributes,
            self.opt_out_classes,
            self.label_attribute,
            self.app_link_attributes,
            self.max_link_length,
        )


def destination(raw_value: str) -> str:
    """The URL a browser would follow for an attribute value as written."""
    url = decode_attribute(raw_value).strip(_URL_STRIP)
    if "\t" in url or "\n" in url or "\r" in url:
        return url.translate(_URL_DROP)
    return url


def url_reason(url: str, rules: LinkRules) -> str | None:
    """None when `url` is trackable, else why it is left alone."""
    if not url:
        return EMPTY
    if _PLACEHOLDER.search(url):
        return PLACEHOLDER
    if url.startswith("#"):
        return FRAGMENT
    scheme = _SCHEME.match(url)
    if scheme is None:
        return RELATIVE
    name = scheme.group(1).lower()
    if name not in ("http", "https"):
        return name if name in NAMED_SCHEMES else OTHER_SCHEME
    host = _hostname(url)
    if not host:
        return NO_HOST
    if host.lower().rstrip(".") in rules.own_hosts:
        return ALREADY_TRACKED
    return None


# An http(s) URL's authority: after "scheme://", up to the path, query or fragment.
_AUTHORITY = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#]*)")


def _hostname(url: str) -> str | None:
    """As `urlsplit(url).hostname` (None where it raises), without its cost for the
    plain `user@host:port` authorities of nearly every link."""
    authority = _AUTHORITY.match(url)
    if authority is None:
        return None
    host = authority.group(1).rpartition("@")[2]
    if "[" in host or "]" in host or not host.isascii():
        try:
            return urlsplit(url).hostname
        except ValueError:
            return None
    return host.partition(":")[0].lower()


def opted_out(attributes: Mapping[str, str], rules: LinkRules) -> bool:
    if not rules._opt_out_names.intersection(attributes):
        return False
    for name, wanted in rules.opt_out_attributes:
        if name in attributes and (
            wanted is None or decode_attribute(attributes[name]).strip().lower() == wanted
        ):
            return True
    classes = decode_attribute(attributes.get("class", "")).lower().split()
    return not rules.opt_out_classes.isdisjoint(classes)


# An app-link attribute with one of these values does not mark its link (`universal="false"`).
_NOT_MARKED = frozenset({"false", "0", "no", "off"})


def is_app_link(attributes: Mapping[str, str], rules: LinkRules) -> bool:
    """Whether the link is marked to open in the sender's app (`universal="true"`,
    `data-app-link`): signed under `/a/` then."""
    for name in rules.app_link_attributes:
        if name in attributes:
            value = decode_attribute(attributes[name]).strip().lower()
            if value not in _NOT_MARKED:
                return True
    return False
