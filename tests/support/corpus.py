"""The email corpus the rewriter is tested on: `tests/data/emails`, shipped with the project."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Outside the TRACKWAY_ prefix: every TRACKWAY_* variable is read as a setting.
CORPUS_VARIABLE = "TESTS_EMAIL_CORPUS"


def corpus_dir() -> Path:
    """`tests/data/emails`; another folder by $TESTS_EMAIL_CORPUS."""
    override = os.environ.get(CORPUS_VARIABLE)
    path = Path(override) if override else REPO / "tests" / "data" / "emails"
    if not path.is_dir():
        raise RuntimeError(f"email corpus not found at {path}")
    return path


def corpus_files() -> list[Path]:
    return sorted(p for p in corpus_dir().rglob("*") if p.is_file())
