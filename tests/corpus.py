"""Access to the shared corpus of real captures, read at run time, never copied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FRAMES = CORPUS_DIR / "frames.json"
STREAMS = CORPUS_DIR / "streams"


def corpus_entries() -> list[dict[str, Any]]:
    """The corpus entries, or an empty list when the corpus is not beside the clone."""
    if not FRAMES.is_file():
        return []
    entries: list[dict[str, Any]] = json.loads(FRAMES.read_text(encoding="utf-8"))
    return entries


def require_corpus() -> None:
    if not FRAMES.is_file():
        pytest.skip(f"the shared corpus is not at {CORPUS_DIR} (it lives beside the clone in CI)")
