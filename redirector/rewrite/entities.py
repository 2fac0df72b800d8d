"""Character references in attribute values, decoded as the WHATWG tokenizer does.

`html.unescape` decodes text content; attributes differ: a named reference without `;`
followed by `=` or an alphanumeric stays as written (`?a=1&copy=2` keeps `&copy=`), so
query strings with raw `&` survive. Pure.
"""

from __future__ import annotations

import html.entities
import re

_REF = re.compile(r"&(?:#[xX]([0-9a-fA-F]+);?|#([0-9]+);?|([a-zA-Z][a-zA-Z0-9]*;?))")
_NAMED = html.entities.html5
_LONGEST_NAME = max(len(name) for name in _NAMED)
# Numeric references to these code points mean the windows-1252 character (§13.2.5.80).
_C1_REPLACEMENTS = {
    0x80: "\u20ac", 0x82: "\u201a", 0x83: "\u0192", 0x84: "\u201e", 0x85: "\u2026",
    0x86: "\u2020", 0x87: "\u2021", 0x88: "\u02c6", 0x89: "\u2030", 0x8A: "\u0160",
    0x8B: "\u2039", 0x8C: "\u0152", 0x8E: "\u017d", 0x91: "\u2018", 0x92: "\u2019",
    0x93: "\u201c", 0x94: "\u201d", 0x95: "\u2022", 0x96: "\u2013", 0x97: "\u2014",
    0x98: "\u02dc", 0x99: "\u2122", 0x9A: "\u0161", 0x9B: "\u203a", 0x9C: "\u0153",
    0x9E: "\u017e", 0x9F: "\u0178",
}  # fmt: skip


def decode_attribute(raw: str) -> str:
    if "&" not in raw:
        return raw
    if raw.count("&") == raw.count("&amp;"):  # the usual query string: each & is one &amp;
        return raw.replace("&amp;", "&")
    return _REF.sub(_replace, raw)


def _replace(m: re.Match[str]) -> str:
    hex_digits, dec_digits, name = m.groups()
    if name is None:
        return _numeric(hex_digits, 16) if hex_digits else _numeric(dec_digits, 10)
    # The longest known prefix wins; unterminated, it is kept when `=` or an alphanumeric
    # follows (`&notit;` stays, where in text it would be `¬it;`).
    for size in range(min(len(name), _LONGEST_NAME), 0, -1):
        candidate = name[:size]
        if candidate in _NAMED:
            rest = name[size:]
            if not candidate.endswith(";"):
                after = m.string[m.end() : m.end() + 1]
                follows = rest[:1] or after
                if follows == "=" or (follows.isascii() and follows.isalnum()):
                    return m.group(0)
            return _NAMED[candidate] + rest
    return m.group(0)


def _numeric(digits: str, base: int) -> str:
    digits = digits.lstrip("0")
    # More digits are past 0x10FFFF in either base; and `int` refuses thousands of
    # decimal digits (or takes quadratic time without its limit).
    if len(digits) > 7:
        return "\ufffd"
    code = int(digits or "0", base)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return _C1_REPLACEMENTS.get(code, chr(code))


def escape_attribute(value: str, quote: str) -> str:
    """`value` written back safely inside `quote` (or unquoted, where it must not break)."""
    value = value.replace("&", "&amp;")
    if quote == '"':
        return value.replace('"', "&quot;")
    if quote == "'":
        return value.replace("'", "&#39;")
    return _UNQUOTED_UNSAFE.sub(_numeric_reference, value)


_UNQUOTED_UNSAFE = re.compile(r"""[\t\n\f\r "'<=>`]""")


def _numeric_reference(c: re.Match[str]) -> str:
    return f"&#{ord(c.group(0))};"
