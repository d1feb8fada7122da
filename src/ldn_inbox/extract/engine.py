"""Placeholder engine, replaced by the full extractor."""

from __future__ import annotations

from ldn_inbox.extract import Extraction


def run(own_text: str, language: str) -> Extraction:
    result = Extraction()
    return result
