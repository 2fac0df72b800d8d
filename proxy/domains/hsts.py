"""HSTS: the policy in a Strict-Transport-Security header, and which names to ask. Pure.

A host is covered when it, or a parent domain with `includeSubDomains`, has a policy:
then browsers rewrite http:// links to https:// before sending them, so an http
tracking link breaks unless HTTPS works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# RFC 6797 §6.1: directive = name [ "=" value ], value = token / quoted-string.
_TCHARS = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_DIRECTIVE = re.compile(
    rf"\s*(?:({_TCHARS})\s*(?:=\s*({_TCHARS}|\"(?:[^\"\\]|\\.)*\"))?\s*)?(;|$)", re.ASCII
)


@dataclass(frozen=True)
class StsPolicy:
    max_age: int
    include_subdomains: bool
    preload: bool = False

    def describe(self) -> str:
        parts = [f"max-age={self.max_age}"]
        if self.include_subdomains:
            parts.append("includeSubDomains")
        if self.preload:
            parts.append("preload")
        return "; ".join(parts)


def parse_sts(header: str) -> StsPolicy | None:
    """The policy of one header value; None when it is invalid or removes the policy.

    Per RFC 6797 §6.1: directive names are case-insensitive, a value may be quoted,
    each directive appears at most once, `max-age` is required, and `max-age=0` means
    no policy. An invalid header is ignored as a whole (§8.1).
    """
    seen: dict[str, str | None] = {}
    pos = 0
    while pos < len(header) or pos == 0:
        m = _DIRECTIVE.match(header, pos)
        if m is None:
            return None
        pos = m.end()
        if m.group(1) is None:  # an empty directive (`;;`, a trailing `;`) is allowed
            if m.group(3) == "":
                break
            continue
        name = m.group(1).lower()
        if name in seen:
            return None
        value = m.group(2)
        if value is not None and value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        seen[name] = value
        if m.group(3) == "":
            break
    max_age = seen.get("max-age")
    if max_age is None or not max_age.isdigit():
        return None
    if "includesubdomains" in seen and seen["includesubdomains"] is not None:
        return None  # the directive takes no value
    age = int(max_age)
    if age == 0:
        return None
    return StsPolicy(age, "includesubdomains" in seen, "preload" in seen)


def names_to_check(host: str) -> list[str]:
    """The host and each parent down to a registrable-looking domain (two labels)."""
    labels = host.lower().rstrip(".").split(".")
    return [".".join(labels[i:]) for i in range(0, max(1, len(labels) - 1))]
