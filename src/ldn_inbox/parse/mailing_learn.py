"""Learning the mailing from the mail itself.

Without any mailing added, the text that the quoted parts of several *different* senders
share is what the organisation sent: respondents' own words are never quoted alike by three
people, while a newsletter is quoted by nearly everyone who answers it. Quoted text is cut
into shingles of :data:`SHINGLE` tokens (wrapping, case and the client's quote marks do not
count); a shingle quoted by at least ``min_senders`` different senders is mailing text. One
message that quotes much of it (the representative) gives the mailing's text with its line
breaks, so its questions can be found (:func:`ldn_inbox.parse.mailings.locate_questions`).

Pure: (sender, quoted text) pairs in, :class:`Learned` mailings out.
"""

from __future__ import annotations

import re
import zlib
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import compress

from ldn_inbox.parse.mailings import Mailing, MailingSet
from ldn_inbox.parse.reply import is_client_line, is_structure_line, strip_quote
from ldn_inbox.parse.textnorm import line_tokens

#: Tokens per shingle: long enough that a respondent never types one of the mailing's by
#: chance, short enough that a short quoted question still holds one.
SHINGLE = 5
#: Different senders who must quote a shingle before it counts as mailing text.
MIN_SENDERS = 3
#: New mailing tokens a quote must bring before it is learned as (part of) a mailing.
MIN_NEW_TOKENS = 20
#: Share of a line's tokens that must be shared text for the line to be mailing text.
LINE_SHARE = 0.6

#: Quoted tokens read per message: a mailing is quoted near its top, and a 30 KB quote of
#: something else need not be read whole.
MAX_TOKENS = 4000
#: One shingle in this many (by a stable hash of its first word) is counted in a first pass;
#: only the quotes sharing a sampled shingle with other senders are read in full.
SAMPLE = 4
#: Sampled shared shingles a quote needs to be read in full: a mailing of
#: :data:`MIN_NEW_TOKENS` words has about five (a shared greeting line has one or two).
MIN_SAMPLED = 3

#: A quote's first-pass shingles by its text (:func:`learn`'s ``first_pass``): a run learns
#: several times from mostly the same window of quotes and reads each once.
FirstPass = dict[str, "array[int]"]

_URL_ONLY = re.compile(r"^\s*<?(?:https?://|mailto:|www\.)\S*>?\s*$|^\s*\[(?:image|cid):", re.I)


@dataclass
class Learned:
    """A mailing learned from the replies, and where it came from.

    :ivar senders: how many different senders quote it.
    :ivar sources: the keys (record ids) of messages that quote it.
    """

    mailing: Mailing
    senders: int
    sources: list[str] = field(default_factory=list)


@dataclass
class _Quote:
    key: str
    sender: str
    lines: list[str]
    tokens: list[list[str]]  # per line
    spans: list[list[tuple[int, int]]]  # per line, the character span of each token
    shingles: list[int]  # per stream position (shingle starting there), -1 if none


def _quote(key: str, sender: str, quoted_text: str) -> _Quote:
    lines: list[str] = []
    tokens: list[list[str]] = []
    spans: list[list[tuple[int, int]]] = []
    count = 0
    for raw in quoted_text.splitlines():
        if count >= MAX_TOKENS:
            break
        _, body = strip_quote(raw)
        if not body.strip() or is_structure_line(body) or is_client_line(body) \
                or _URL_ONLY.match(body):
            continue
        _, found = line_tokens(body)
        if found:
            lines.append(body)
            tokens.append([tok for tok, _, _ in found])
            spans.append([(start, end) for _, start, end in found])
            count += len(found)
    stream = [tok for toks in tokens for tok in toks]
    shingles = [hash(tuple(stream[i:i + SHINGLE])) for i in range(len(stream) - SHINGLE + 1)]
    return _Quote(key, sender, lines, tokens, spans, shingles)


def _known_shingles(known: MailingSet) -> set[int]:
    out: set[int] = set()
    for mailing in known.mailings:
        toks = mailing.tokens
        out.update(hash(tuple(toks[i:i + SHINGLE])) for i in range(len(toks) - SHINGLE + 1))
    return out


def learn(quotes: Iterable[tuple[str, str, str]], known: MailingSet | None = None, *,
          min_senders: int = MIN_SENDERS, first_pass: FirstPass | None = None
          ) -> list[Learned]:
    """Mailings quoted by at least ``min_senders`` senders and not already ``known``.

    ``quotes``: (message key, sender key, quoted text) per message; quoted text may still
    carry ``>`` marks, attribution lines and header blocks (they are left out).
    ``first_pass``: what an earlier call read of the same texts (kept to these quotes')."""
    parsed = _shared_quotes([(key, sender, text) for key, sender, text in quotes
                             if text.strip()], min_senders, first_pass)
    support: dict[int, set[str]] = {}
    for quote in parsed:
        for shingle in set(quote.shingles):
            senders = support.setdefault(shingle, set())
            if len(senders) < min_senders:
                senders.add(quote.sender)
    frequent = {s for s, senders in support.items() if len(senders) >= min_senders}
    frequent -= _known_shingles(known or MailingSet())
    learned: list[Learned] = []
    taken: set[int] = set()
    ranked = sorted(parsed, key=lambda q: -sum(1 for s in q.shingles if s in frequent))
    for quote in ranked:
        text, shingles = _mailing_lines(quote, frequent, taken)
        if len(shingles) < MIN_NEW_TOKENS:
            continue
        taken |= shingles
        mailing = Mailing(text, source="learned")
        supporters = [q for q in parsed
                      if len(shingles.intersection(q.shingles)) >= 0.3 * len(shingles)]
        learned.append(Learned(mailing, len({q.sender for q in supporters}),
                               [q.key for q in supporters]))
    return learned


def _words(text: str) -> list[str]:
    """A quote's words for the first pass: split on spaces, quote marks off, lowercased (the
    same text quoted by several people splits alike, however it was wrapped)."""
    words: list[str] = []
    for raw in text.splitlines():
        words += raw.lstrip("> \t").lower().split()
        if len(words) >= MAX_TOKENS:
            break
    return words[:MAX_TOKENS]


def _shared_quotes(quotes: list[tuple[str, str, str]], min_senders: int,
                   first_pass: FirstPass | None = None) -> list[_Quote]:
    """The quotes worth reading in full: those sharing sampled shingles with at least
    ``min_senders`` senders. Text that only one person quotes (their own earlier mail, a
    long thread) is dropped after a cheap first pass, which keeps learning fast and small.
    A shingle is sampled by a stable hash of its first word."""
    chosen: dict[str, bool] = {}

    def sampled(words: list[str]) -> set[int]:
        distinct = set(words)
        for word in distinct.difference(chosen):
            chosen[word] = zlib.crc32(word.encode()) % SAMPLE == 0
        keep = {word for word in distinct if chosen[word]}
        # the shingles starting at a sampled word, hashed (zip builds them, all in C)
        starts = zip(*(words[offset:] for offset in range(SHINGLE)), strict=False)
        return set(map(hash, compress(starts, map(keep.__contains__, words))))

    # a text's sampled shingles, kept compact (8 bytes each) for the next call
    cache: FirstPass = {} if first_pass is None else first_pass
    shingled: list[array[int]] = []
    for _, _, text in quotes:
        found = cache.get(text)
        if found is None:
            found = cache[text] = array("q", sampled(_words(text)))
        shingled.append(found)
    if first_pass is not None and len(first_pass) > len(quotes):
        live = {text for _, _, text in quotes}
        for text in [text for text in first_pass if text not in live]:
            del first_pass[text]
    frequent = _quoted_by(shingled, [sender for _, sender, _ in quotes], min_senders)
    return [_quote(key, sender, text)
            for (key, sender, text), shingles in zip(quotes, shingled, strict=True)
            if len(frequent.intersection(shingles)) >= MIN_SAMPLED]


def _quoted_by(shingled: list[array[int]], senders: list[str], min_senders: int) -> set[int]:
    """The shingles that at least ``min_senders`` different senders quote. Counted in
    arrays (8 bytes a shingle), not in sets and counters of Python integers: a window of
    long quotes holds half a million shingles."""
    import numpy as np

    by_sender: dict[str, list[array[int]]] = {}
    for sender, shingles in zip(senders, shingled, strict=True):
        by_sender.setdefault(sender, []).append(shingles)
    distinct = [np.unique(np.concatenate([np.frombuffer(a, dtype=np.int64) for a in arrays]))
                if len(arrays) > 1 else np.frombuffer(arrays[0], dtype=np.int64)
                for arrays in by_sender.values()]  # (one quote's shingles are distinct)
    if not distinct:
        return set()
    values, counts = np.unique(np.concatenate(distinct), return_counts=True)
    return {int(value) for value in values[counts >= min_senders]}


def _mailing_lines(quote: _Quote, frequent: set[int], taken: set[int]) -> tuple[str, set[int]]:
    """The lines of ``quote`` that are shared text not yet learned, and their shingles."""
    covered = [False] * sum(len(t) for t in quote.tokens)
    for position, shingle in enumerate(quote.shingles):
        if shingle in frequent and shingle not in taken:
            for offset in range(SHINGLE):
                covered[position + offset] = True
    kept: list[str] = []
    shingles: set[int] = set()
    offset = 0
    gap = False
    for line, toks, spans in zip(quote.lines, quote.tokens, quote.spans, strict=True):
        mask = covered[offset:offset + len(toks)]
        share = sum(mask) / len(toks)
        if share >= LINE_SHARE:
            if gap and kept:
                kept.append("")
            kept.append(_trimmed(line, spans, mask))
            gap = False
            for position in range(max(0, offset - SHINGLE + 1), offset + len(toks)):
                if position < len(quote.shingles):
                    shingle = quote.shingles[position]
                    if shingle in frequent and shingle not in taken:
                        shingles.add(shingle)
        else:
            gap = True
        offset += len(toks)
    return "\n".join(kept), shingles


def _trimmed(line: str, spans: list[tuple[int, int]], mask: list[bool]) -> str:
    """``line`` without the words before its first and after its last shared token: what a
    respondent typed on a form row ("Bijwerkingen: geen") is not the mailing's."""
    first = mask.index(True)
    last = len(mask) - 1 - mask[::-1].index(True)
    start = 0 if first == 0 else spans[first][0]
    end = len(line) if last == len(mask) - 1 else spans[last][1]
    if end < len(line):
        # keep the punctuation that closes the shared words ("nooit):", "welke?")
        tail = len(line[end:]) - len(line[end:].lstrip("?!.:;)]\"'”»"))
        end += tail
    return line[start:end].strip()

