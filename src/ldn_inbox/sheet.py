"""The published info sheet and its four questions, as matchers for reply isolation.

A reply quotes the sheet in every possible way: ``>``-prefixed, unprefixed below an Outlook
header block, re-wrapped, pasted without quote marks, in HTML. Whatever the layout, a line
of the sheet is a contiguous run of the sheet's words; that is what :class:`Sheet` tests.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from rapidfuzz import fuzz

from ldn_inbox.codebook import QUESTIONS

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

#: Distinctive openings of the four questions, matched fuzzily (typos, re-typed questions).
_QUESTION_KEYS: tuple[str, ...] = (
    "gebruikt u naltrexone of heeft u het gebruikt",
    "wie schreef u de naltrexone voor",
    "was uw ervaring positief",
    "had u bepaalde bijwerkingen",
)
#: Minimum similarity (0-100) for a line to count as a question anchor.
QUESTION_SCORE = 88


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case without accents: the form every matcher compares."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


@dataclass(frozen=True)
class QuestionMatch:
    """A question found in a line: which one (1-4) and where the rest of the line starts."""

    number: int
    rest_start: int
    score: float


class Sheet:
    """Matcher for the text of the mailing that replies quote."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._joined = " " + " ".join(words(text)) + " "
        self._lines = {" ".join(words(line)) for line in text.splitlines() if line.strip()}
        self._unnumbered = " " + " ".join(_unnumbered(words(text))) + " "

    def covers(self, line: str, *, min_chars: int = 25) -> bool:
        """Whether the whole line is a piece of the sheet (long enough to be sure)."""
        norm = " ".join(words(line))
        if not norm:
            return False
        if norm in self._lines and len(norm) >= 8:
            return True
        return len(norm) >= min_chars and f" {norm} " in self._joined

    def is_fragment(self, line: str) -> bool:
        """Whether the line is any piece of the sheet, however short."""
        norm = " ".join(words(line))
        return bool(norm) and f" {norm} " in self._joined

    def continues(self, previous: str, line: str, *, tail: int = 3) -> bool:
        """Whether ``line`` is the sheet text that comes right after ``previous`` (its last
        ``tail`` words): the test for a wrapped continuation line. A short answer typed
        under a question ("huisarts", "positief", "geen") is a piece of the sheet too, but
        not the piece that follows the question. Single digits (list numbers, which HTML
        renderings drop) are ignored on both sides; a line of list numbers only continues."""
        tokens = words(line)
        after = _unnumbered(tokens)
        if tokens and not after:
            return True
        before = _unnumbered(words(previous))[-tail:] if tail > 0 else []
        if not after or not before:
            return False
        return f" {' '.join(before + after)} " in self._unnumbered

    def leading_cover(self, line: str) -> int:
        """Length in characters of the longest leading part of ``line`` that is sheet text
        of at least three words, else 0 (for questions pasted with the answer after them)."""
        spans = [(m.start(), m.end(), fold(m.group(0))) for m in _WORD.finditer(line)]
        best = 0
        for count in range(len(spans), 2, -1):
            candidate = " ".join(w for _, _, w in spans[:count])
            if f" {candidate} " in self._joined:
                best = spans[count - 1][1]
                break
        if best:
            # swallow the punctuation that closes the sheet fragment, e.g. "?)"
            while best < len(line) and line[best] in "?)!.:,;]":
                best += 1
        return best


def _unnumbered(tokens: list[str]) -> list[str]:
    return [token for token in tokens if not (len(token) == 1 and token.isdigit())]


@lru_cache(maxsize=1)
def default_sheet() -> Sheet:
    text = resources.files("ldn_inbox").joinpath("data/sheet.nl.txt").read_text("utf-8")
    return Sheet(text)


_NUMBER_PREFIX = re.compile(r"^\s*(?:vraag|question|frage|v|q)?\s*(\d)\s*[.):\-]?\s*", re.I)


def _ratio_floor(key: str) -> float:
    """Lowest ``fuzz.ratio(key, head)`` (head: the key's length plus 6 characters) that
    still allows an alignment scoring QUESTION_SCORE over at least 85 % of the key.

    Such a window w has 2*LCS(key, w) >= 0.88 * (len(key) + len(w)) with
    len(w) >= 0.85 * len(key), and the head contains w, so
    ratio(key, head) >= 2 * 0.44 * 1.85 * len(key) / (2 * len(key) + 6)."""
    size = len(key)
    share = QUESTION_SCORE / 100
    return 100 * share * (1 + 0.85) * size / (2 * size + 6) - 0.5


_RATIO_FLOOR = tuple(_ratio_floor(key) for key in _QUESTION_KEYS)


@lru_cache(maxsize=8192)
def match_question(line: str) -> QuestionMatch | None:
    """The published question that ``line`` starts with, if any (fuzzy).

    Cached: every reply quotes the same sheet."""
    folded = fold(line)
    prefix = _NUMBER_PREFIX.match(folded)
    body_start = prefix.end() if prefix else 0
    body = folded[body_start:]
    if len(body) < 12:
        return None
    best: QuestionMatch | None = None
    for index, key in enumerate(_QUESTION_KEYS):
        head = body[: len(key) + 6]
        if len(head) >= len(key) and fuzz.ratio(key, head) < _RATIO_FLOOR[index]:
            continue  # cheap and exact: no alignment below can reach the score
        alignment = fuzz.partial_ratio_alignment(key, head, score_cutoff=QUESTION_SCORE)
        if alignment is None or alignment.dest_start > 4:
            continue
        if alignment.dest_end - alignment.dest_start < 0.85 * len(key):
            continue
        if prefix and prefix.group(1) and int(prefix.group(1)) != index + 1:
            continue
        if best is None or alignment.score > best.score:
            rest = _skip_question_tail(line, body_start + alignment.dest_end, index)
            while rest < len(line) and line[rest] in "?)!.:,; ":
                rest += 1
            best = QuestionMatch(index + 1, rest, alignment.score)
    return best


def _skip_question_tail(line: str, start: int, index: int) -> int:
    """Skip the rest of the published question's words (e.g. its examples in brackets)
    that follow the matched opening in ``line``; returns where the answer starts."""
    key_words = _QUESTION_KEYS[index].split()
    tail_words = words(QUESTIONS[index])[len(key_words):]
    position = start
    for match in _WORD.finditer(line, start):
        if not tail_words:
            break
        word = fold(match.group(0))
        if fuzz.ratio(word, tail_words[0]) < 80:
            break
        tail_words.pop(0)
        position = match.end()
    return position
