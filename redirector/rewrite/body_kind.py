"""Whether a body's bytes are text the rewriter can take: UTF-8 or another charset in
which ASCII is ASCII (links are ASCII there, and every other byte is kept as it is).
UTF-16 or UTF-32 text, images, archives and other binary data are not: their links, if
any, are not where the scanners look, and a rewrite could only damage them. Pure.
"""

from __future__ import annotations

# Longest first where one starts another (UTF-32 LE's mark starts with UTF-16 LE's).
_SIGNATURES = (
    (b"\xff\xfe\x00\x00", "UTF-32 text (byte order mark)"),
    (b"\x00\x00\xfe\xff", "UTF-32 text (byte order mark)"),
    (b"\xff\xfe", "UTF-16 text (byte order mark)"),  # in Latin-1 "ÿþ", which starts no email
    (b"\xfe\xff", "UTF-16 text (byte order mark)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "gzip data"),
)


def not_text(raw: bytes) -> str | None:
    """What `raw` seems to be when it is no text to rewrite; None when it is text."""
    for signature, what in _SIGNATURES:
        if raw.startswith(signature):
            return what
    nuls = raw.count(0)
    if not nuls:
        return None
    # UTF-16 of mostly ASCII text: a NUL in every other byte, all on one side.
    even = raw[::2].count(0)
    if nuls * 4 >= len(raw) and max(even, nuls - even) * 10 >= nuls * 9:
        return "UTF-16 text, it seems (no byte order mark)"
    return "binary data (NUL bytes)"
