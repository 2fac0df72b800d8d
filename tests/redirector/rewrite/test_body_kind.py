"""Which bytes are a body to rewrite, and what the others are."""

from __future__ import annotations

import pytest

from redirector.rewrite.body_kind import not_text

HTML = "<p><a href='https://example.com/caf\u00e9'>caf\u00e9</a></p>\r\n"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        HTML.encode(),
        HTML.encode("latin-1"),
        HTML.encode("cp1252"),
        "\ufeff".encode() + HTML.encode(),  # UTF-8 with its byte order mark
        "\u03ba\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1".encode("iso-8859-7"),
    ],
)
def test_text_in_an_ascii_compatible_charset_is_text(body: bytes) -> None:
    assert not_text(body) is None


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (HTML.encode("utf-16"), "UTF-16 text (byte order mark)"),
        (HTML.encode("utf-16-be"), "UTF-16 text, it seems (no byte order mark)"),
        (HTML.encode("utf-16-le"), "UTF-16 text, it seems (no byte order mark)"),
        (HTML.encode("utf-32"), "UTF-32 text (byte order mark)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
        (b"GIF89a\x01\x00", "a GIF image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
        (b"%PDF-1.7\n", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"\x1f\x8b\x08\x00", "gzip data"),
        (b"text\x00with a NUL", "binary data (NUL bytes)"),
    ],
)
def test_what_is_not_text_says_what_it_seems(body: bytes, what: str) -> None:
    assert not_text(body) == what
