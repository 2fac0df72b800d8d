"""Domain names as users type them, checked and normalised. Pure."""

from __future__ import annotations

import re

from config.settings import is_ip_literal
from proxy.domains.errors import InvalidDomain

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class DomainNameError(InvalidDomain, ValueError):
    """The name is not a domain name; the message says what is wrong with it."""


def normalise(name: str) -> str:
    """Lowercase ASCII (IDNA for non-ASCII), no trailing dot; an error says what is wrong."""
    text = name.strip().rstrip(".").lower()
    if "://" in text or "/" in text:
        raise DomainNameError(f"{name!r}: a domain name, not a URL")
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise DomainNameError(f"{name!r} is not a valid domain name") from None
    labels = text.split(".")
    if is_ip_literal(text):
        raise DomainNameError(f"{name!r} is an IP address, not a domain name")
    if len(text) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(lb) for lb in labels):
        raise DomainNameError(f"{name!r} is not a valid domain name (e.g. links.example.com)")
    return text


def is_within(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)
