"""Lexicons hold general expressions of the language, not one respondent's sentence.

A lexicon entry of four words or more that occurs whole in exactly one labelled message was
almost certainly copied from it: it helps that message and no other. Every such entry fails
this test; write the rule it stood for in general terms instead (shorter expressions, a gap
term "word ~N word", or a rule in the extractor).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path

import pytest

from ldn_inbox.extract._text import LANGUAGES
from ldn_inbox.parse.mime import parse
from ldn_inbox.parse.textnorm import fold

ROOT = Path(__file__).resolve().parent.parent
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+(?:['’][^\W\d_]+)?|[/]")
MIN_WORDS = 4


def _tokens(text: str) -> list[str]:
    return [fold(m.group(0)).replace("’", "'") for m in _TOKEN.finditer(text)]


def labelled_messages() -> list[Path]:
    """The project's own labelled messages (the same in every clone, so the test gives the
    same answer everywhere; the held-out sets in fixtures/final are not read)."""
    folders = [ROOT / "fixtures" / "emails", *sorted((ROOT / "fixtures" / "measure").glob("*/eml"))]
    return [path for folder in folders for path in sorted(folder.glob("*.eml"))]


@lru_cache(maxsize=1)
def _texts() -> tuple[str, ...]:
    texts = []
    for path in labelled_messages():
        parsed = parse(path.read_bytes())
        text = parsed.text + "\n" + "\n".join(a.text or "" for a in parsed.attachments)
        texts.append(" " + " ".join(_tokens(text)) + " ")
    return tuple(texts)


def _entries(table: dict[str, object], path: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _entries(value, (*path, key))
        elif isinstance(value, list):
            for entry in value:
                if isinstance(entry, str):
                    yield ".".join((*path, key)), entry


def long_entries(language: str) -> list[tuple[str, str, str]]:
    """(where, entry, its words) of the lexicon entries of at least :data:`MIN_WORDS` words."""
    raw = resources.files("ldn_inbox").joinpath(f"data/lexicon/{language}.toml").read_text(
        "utf-8")
    out = []
    for where, entry in _entries(tomllib.loads(raw)):
        words = _tokens(entry.replace("*", ""))
        if len(words) >= MIN_WORDS and "~" not in entry:
            out.append((where, entry, " " + " ".join(words) + " "))
    return out


def single_message_entries(entries: list[tuple[str, str, str]],
                           texts: tuple[str, ...]) -> list[str]:
    """The entries whose words occur whole in exactly one of ``texts``."""
    return [f"{where}: {entry!r}" for where, entry, words in entries
            if sum(1 for text in texts if words in text) == 1]


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_lexicon_entry_fits_a_single_labelled_message(language: str) -> None:
    texts = _texts()
    assert len(texts) >= 300, "the labelled messages were not found"
    single = single_message_entries(long_entries(language), texts)
    assert not single, (
        f"{len(single)} {language} lexicon entries occur whole in exactly one labelled "
        "message; write them in general terms:\n  " + "\n  ".join(single))


def test_the_check_finds_a_sentence_copied_from_one_message() -> None:
    texts = _texts()
    # six words in a row from one story, which no other labelled message repeats
    story = next(text.split() for text in texts if len(text.split()) > 200)
    copied = next(" " + " ".join(story[i:i + 6]) + " " for i in range(40, len(story) - 6)
                  if sum(1 for text in texts if " " + " ".join(story[i:i + 6]) + " " in text)
                  == 1)
    general = " " + " ".join(_tokens("geen bijwerkingen")) + " "
    found = single_message_entries([("use.past", "copied", copied),
                                    ("side_effect.generic", "general", general)], texts)
    assert found == ["use.past: 'copied'"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_gap_term_has_the_form_the_matcher_reads(language: str) -> None:
    """A gap term is one word, "~N", one word; any other entry with "~" never matches."""
    raw = resources.files("ldn_inbox").joinpath(f"data/lexicon/{language}.toml").read_text(
        "utf-8")
    word = r"[^\W\d_]+(?:['’][^\W\d_]+)?"
    gap = re.compile(rf"^{word}\s+~\d\s+{word}$")
    wrong = [f"{where}: {entry!r}" for where, entry in _entries(tomllib.loads(raw))
             if "~" in entry and not gap.match(entry)]
    assert not wrong, "gap terms must read 'word ~N word':\n    " + "\n    ".join(wrong)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_lexicon_has_the_sections_and_keys_of_the_others(language: str) -> None:
    """The rules ask every lexicon the same questions: a key missing in one language is a
    rule that silently never fires there."""
    def keys(lang: str) -> set[str]:
        raw = resources.files("ldn_inbox").joinpath(f"data/lexicon/{lang}.toml").read_text(
            "utf-8")
        return {f"{section}.{key}" for section, table in tomllib.loads(raw).items()
                for key in table}

    missing = sorted(keys("de") - keys(language))
    assert not missing, f"{language}.toml lacks: {', '.join(missing)}"
