"""Text normalisation shared by reply isolation, mailings and extraction.

Matching is done on *folded* text: lower case, accents removed. Tokens are runs of letters and
digits; everything else (punctuation, dashes, quote marks, spaces of any kind) separates them,
so the same sentence rendered by different mail clients gives the same tokens.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

#: A list label at the start of a line: "1.", "2)", "a)", "b.", "•", "-", "*", "–".
#: Labels are kept apart from the words: mail clients render HTML lists with or without them.
LINE_LABEL = re.compile(
    r"^[ \t]*(?:(?P<label>\d{1,2}|[a-dA-D])[.)][ \t]+|\((?P<plabel>\d|[a-dA-D])\)[ \t]+"
    r"|[•·▪◦*\-–—][ \t]+)"
)


class _Marks(dict[int, int | None]):
    """``str.translate`` table deleting combining marks, filled as characters are met."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.combining(chr(code)) else code
        self[code] = value
        return value


_MARKS = _Marks()


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower case without accents: the form every matcher compares."""
    lowered = text.lower()
    if lowered.isascii():
        return lowered
    return unicodedata.normalize("NFKD", lowered).translate(_MARKS)


def words(text: str) -> list[str]:
    """The folded tokens of ``text``."""
    return TOKEN.findall(fold(text))


def line_tokens(line: str) -> tuple[str, list[tuple[str, int, int]]]:
    """A line's list label (``""`` if none) and its folded tokens with their character
    offsets in ``line``; the label is not among the tokens."""
    label = ""
    start = 0
    match = LINE_LABEL.match(line)
    if match:
        label = fold(match.group("label") or match.group("plabel") or "")
        start = match.end()
    if line.isascii():
        # lower case keeps an ASCII line's offsets and is all folding does to it
        lowered = line.lower()
        return label, [(lowered[a:b], a, b)
                       for a, b in map(re.Match.span, TOKEN.finditer(lowered, start))]
    found = []
    for match in TOKEN.finditer(line, start):
        token = match.group(0)
        lowered = token.lower()
        found.append((lowered if lowered.isascii() else fold(token), match.start(),
                      match.end()))
    return label, found


_REPLY_PREFIX = re.compile(
    r"^(?:\s*(?:re|aw|antw|antwoord|ref|tr|fw|fwd|wg|sv|vs|doorst|wtr)\s*(?:\[\d+\])?\s*:\s*)+",
    re.IGNORECASE)


def subject_key(subject: str) -> str:
    """A subject without "Re:", "Fwd:", "TR:" and the like, folded: replies to one mailing
    share it."""
    return " ".join(words(_REPLY_PREFIX.sub("", subject)))


def common_subject(subjects: Iterable[str | None]) -> str:
    """A learned mailing's name: the subject most of the replies quoting it answer, with
    "Re: " and the like taken off (the subject a reply without a quote can be tied by)."""
    counts: dict[str, int] = {}
    for subject in subjects:
        clean = _REPLY_PREFIX.sub("", subject or "").strip()
        if clean:
            counts[clean] = counts.get(clean, 0) + 1
    if not counts:
        return "learned from replies"
    return max(counts.items(), key=lambda item: item[1])[0][:400]
