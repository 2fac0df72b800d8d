from __future__ import annotations

import os
from pathlib import Path

import pytest

from redirector import KeyRing, LinkSigner, Rewriter, SendContext
from redirector.keyring import SigningKey

REPO = Path(__file__).resolve().parents[1]


# Outside the TRACKWAY_ prefix: every TRACKWAY_* variable is read as a setting.
CORPUS_VARIABLE = "TESTS_EMAIL_CORPUS"


def corpus_dir() -> Path:
    """`tests/data/emails`, shipped with the project; another folder by $TESTS_EMAIL_CORPUS."""
    override = os.environ.get(CORPUS_VARIABLE)
    path = Path(override) if override else REPO / "tests" / "data" / "emails"
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
