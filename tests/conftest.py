from __future__ import annotations

import os
from pathlib import Path

import pytest

from redirector import KeyRing, LinkSigner, Rewriter, SendContext
from redirector.keyring import SigningKey

REPO = Path(__file__).resolve().parents[1]


def corpus_dir() -> Path:
    """`../shared/corpus/emails` beside the checkout (CI lays shared/ there too)."""
    override = os.environ.get("TRACKWAY_TEST_CORPUS")
    path = Path(override) if override else REPO.parent / "shared" / "corpus" / "emails"
    if not path.is_dir():
        raise RuntimeError(f"email corpus not found at {path}")
    return path


def corpus_files() -> list[Path]:
    return sorted(p for p in corpus_dir().rglob("*") if p.is_file())


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing([SigningKey("0a0b0c0d", bytes(range(32)), 1_700_000_000)])


@pytest.fixture
def rewriter(ring: KeyRing) -> Rewriter:
    return Rewriter(LinkSigner(ring, "https://t.example.net"))


@pytest.fixture
def ctx() -> SendContext:
    return SendContext("01JDQ8Z6W3V9R2K4M5N6P7Q8RS", "rcpt-42", 1_790_000_000)
