"""Mailings: what the organisation sent, as data.

Replies quote whatever was sent (a newsletter, its French version, a reminder with only the
questions) in every client's way: ``>``-prefixed, unprefixed under an Outlook header block,
re-wrapped, as HTML. Whatever the layout, a quoted line of a mailing is a contiguous run of
the mailing's tokens (:mod:`ldn_inbox.parse.textnorm`), so :class:`MailingSet` finds quoted lines by
token lookup, never by fuzzy windows over the quote.

The four questions are found inside each mailing by what they ask (:func:`locate_questions`:
list labels, question marks, and the words of ``data/questions.toml``), not by a fixed
wording, so a mailing that asks them in another order or numbers them a)-d) works too.

Pure: text in, objects out. Where mailings come from (``ldn-inbox mailing add``, or learned
from the replies by :mod:`ldn_inbox.parse.mailing_learn`) is the store's business.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

from ldn_inbox.parse.textnorm import fold, line_tokens, subject_key

#: A line label spelled out: "Vraag 1 –", "Question 2 :", "Q3.", "Frage 4:", "V1".
_WORD_LABEL = re.compile(
    r"^[ \t]*\*{0,2}(?:vraag|vr|question|frage|q|v)[ \t]*\.?[ \t]*(?P<n>\d|[a-d])\b[ \t]*"
    r"[.):\-–—]?", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[?]+[)\]\"'”»]*")
#: A form row: a short label ending in ":" and an empty cell ("Bijwerkingen: ......", "| |").
_FORM_ROW = re.compile(
    r"^[ \t|*•]*([^:\n]{3,80}?[ \t]*:)"
    # the cell: blank, or the choices to pick from ("ja / nee / vroeger", "(oui/non)")
    r"(?:[ \t]*\(?[^\W\d_]{1,14}(?:[ \t]*/[ \t]*[^\W\d_]{1,14})+\)?)?[ \t._|\-–…]*$")
_FORM_MAX_TOKENS = 14
#: Question blocks looked for in one mailing: one per language of a multilingual mailing.
_MAX_BLOCKS = 4
#: Mail clients wrap at 72-80 characters; a longer line is a paragraph, not a wrapped line.
_WRAP_MAX = 100
#: A label and its blank cell inside a line: "Voorgeschreven door: ____________".
_FORM_CELL = re.compile(r"(?:^|[*|•]\s*|\s{2,})([^:\n*|•_]{3,80}?:)[ \t]*(?:_{3,}|\.{4,}|\|)")


@dataclass(frozen=True)
class Question:
    """One of the survey's questions as a mailing asks it.

    :ivar number: the codebook's question (1 use, 2 prescriber, 3 experience, 4 side effects),
        whatever the mailing's own numbering or order.
    :ivar label: the mailing's label for it, folded ("1", "b", "") — respondents reuse it.
    :ivar start: first token of the question in the mailing's token stream.
    :ivar end: one past its last token.
    """

    number: int
    label: str
    text: str
    start: int
    end: int

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "label": self.label, "text": self.text,
                "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Mailing:
    """The text of one mailing, its token stream and the questions found in it."""

    text: str
    name: str = ""
    source: str = "added"
    #: database id, when stored
    id: int | None = None
    questions_given: tuple[Question, ...] | None = field(default=None, compare=False)

    @cached_property
    def lines(self) -> list[tuple[str, list[tuple[str, int, int]], int]]:
        """Per line of the text: its label, tokens, and the stream offset of its first token."""
        out = []
        offset = 0
        for line in self.text.splitlines():
            label, found = line_tokens(line)
            label = label or _word_label(line)
            out.append((label, found, offset))
            offset += len(found)
        return out

    @cached_property
    def tokens(self) -> tuple[str, ...]:
        return tuple(tok for _, found, _ in self.lines for tok, _, _ in found)

    @cached_property
    def key(self) -> str:
        """A stable identity: the hash of the token stream (wrapping and case do not count)."""
        return hashlib.sha256(" ".join(self.tokens).encode()).hexdigest()[:16]

    @cached_property
    def questions(self) -> tuple[Question, ...]:
        if self.questions_given is not None:
            return self.questions_given
        return locate_questions(self)

    @cached_property
    def labels(self) -> dict[str, int]:
        """The mailing's own labels ("5", "c") to codebook question numbers."""
        return {q.label: q.number for q in self.questions if q.label}

    @cached_property
    def order(self) -> tuple[int, ...]:
        """The codebook's question numbers in the order this mailing asks them (a reply's
        "1." or "a)" answers the mailing's first question, which may ask two); questions
        it does not ask on their own follow in the codebook's order."""
        asked: list[int] = []
        spans: set[tuple[int, int]] = set()
        for question in sorted(self.questions, key=lambda q: (q.start, q.number)):
            if (question.start, question.end) in spans or question.number in asked:
                continue  # the second question of a combined one, or a translation
            spans.add((question.start, question.end))
            asked.append(question.number)
        return tuple(asked + [n for n in (1, 2, 3, 4) if n not in asked])

    def question_at(self, start: int, end: int) -> Question | None:
        """The question whose tokens overlap ``[start, end)``, if any."""
        for question in self.questions:
            if start < question.end and question.start < end:
                return question
        return None

    @cached_property
    def questions_end(self) -> int:
        return max((q.end for q in self.questions), default=0)


def _form_cells(line: str, found: list[tuple[str, int, int]], offset: int,
                index: int) -> list[_Unit]:
    """The form rows on ``line``: the whole line ("Bijwerkingen:", with an empty cell after
    it), or several label-and-blank cells run into one ("Gebruik: ____ * Voorgeschreven
    door: ____")."""
    spans = [(m.start(1), m.end(1)) for m in _FORM_CELL.finditer(line)]
    if not spans:
        whole = _FORM_ROW.match(line)
        if not whole or len(found) > _FORM_MAX_TOKENS:
            return []
        spans = [(whole.start(1), whole.end(1))]
    cells = []
    for start, end in spans:
        inside = [i for i, (_, s, _) in enumerate(found) if start <= s < end]
        if inside and len(inside) <= _FORM_MAX_TOKENS:
            cells.append(_Unit("", line[start:end].strip(" *|"), offset + inside[0],
                               offset + inside[-1] + 1, index, True, True, {}, form=True))
    return cells


def _runs_on(line: str, following: str) -> bool:
    """Whether ``following`` continues the list item on ``line`` (a wrapped line or its
    bracketed examples), rather than starting a sentence of its own."""
    head = following.lstrip()[:1]
    if len(following.strip()) > _WRAP_MAX:
        # longer than any wrapped line: a paragraph of its own (an item's heading, then text)
        return False
    if not line.rstrip().endswith((".", "?", "!", ":")):
        return True
    return head == "(" or head.islower()


def _word_label(line: str) -> str:
    match = _WORD_LABEL.match(line)
    return fold(match.group("n")) if match else ""


# -- the four questions inside a mailing ------------------------------------------------


class _Phrases:
    """A list of phrases to count, sorted by how they are looked for: one-word phrases by a
    set lookup (starred ones by their stem), longer ones position by position."""

    __slots__ = ("longer", "stems", "words")

    def __init__(self, phrases: tuple[tuple[str, ...], ...]) -> None:
        self.words = frozenset(p[0] for p in phrases if len(p) == 1 and not p[0].endswith("*"))
        self.stems = tuple(p[0][:-1] for p in phrases if len(p) == 1 and p[0].endswith("*"))
        self.longer = tuple(p for p in phrases if len(p) > 1)


@dataclass(frozen=True)
class _Concept:
    core: _Phrases
    extra: _Phrases


@lru_cache(maxsize=1)
def _concepts() -> tuple[frozenset[str], dict[int, _Concept], tuple[int, ...]]:
    """The reader's address words, the four questions' phrases, and the lengths of the
    stems a starred word starts with."""
    raw = resources.files("ldn_inbox").joinpath("data/questions.toml").read_text("utf-8")
    data = tomllib.loads(raw)
    address = frozenset(fold(w) for w in data["address"]["words"])
    starred: set[int] = set()

    def phrases(items: list[str]) -> _Phrases:
        out = []
        for item in items:
            parts = re.findall(r"[^\W_]+\*?", fold(item))
            if parts:
                out.append(tuple(parts))
                starred.update(len(p) - 1 for p in parts if p.endswith("*"))
        return _Phrases(tuple(dict.fromkeys(out)))

    concepts = {n: _Concept(phrases(data[f"q{n}"]["core"]), phrases(data[f"q{n}"]["extra"]))
                for n in range(1, 5)}
    return address, concepts, tuple(sorted(starred))


def _token_matches(pattern: str, token: str) -> bool:
    if pattern.endswith("*"):
        return token.startswith(pattern[:-1])
    return token == pattern


def _count(phrases: _Phrases, toks: Sequence[str], present: set[str], stems: set[str]) -> int:
    """How many of ``phrases`` occur in ``toks`` (``present``: its tokens; ``stems``: their
    beginnings of the lengths a starred word has)."""
    hits = len(phrases.words & present) + sum(1 for stem in phrases.stems if stem in stems)
    for phrase in phrases.longer:
        size = len(phrase)
        first = phrase[0]
        if first[:-1] not in stems if first.endswith("*") else first not in present:
            continue  # cannot start anywhere
        for i in range(len(toks) - size + 1):
            if all(_token_matches(p, toks[i + j]) for j, p in enumerate(phrase)):
                hits += 1
                break
    return hits


def addresses_reader(text_tokens: Sequence[str]) -> bool:
    """Whether the text speaks to the reader ("u", "vous", "you", "Sie"): survey questions do."""
    address = _concepts()[0]
    return any(tok in address for tok in text_tokens)


def concept_scores(text_tokens: Sequence[str]) -> dict[int, float]:
    """How strongly a piece of text asks each of the four questions (0 when it does not:
    a question needs one of its core words)."""
    return dict(_concept_scores(tuple(text_tokens)))


@lru_cache(maxsize=4096)
def _concept_scores(text_tokens: tuple[str, ...]) -> dict[int, float]:
    # quoted questions come back in reply after reply
    address, concepts, lengths = _concepts()
    scores: dict[int, float] = {}
    present = set(text_tokens)
    addressed = not address.isdisjoint(present)
    stems = {tok[:k] for tok in present for k in lengths if k <= len(tok)}
    for number, concept in concepts.items():
        core = _count(concept.core, text_tokens, present, stems)
        if not core:
            continue
        scores[number] = 2.0 + min(core, 2) + 0.5 * min(
            _count(concept.extra, text_tokens, present, stems), 3) + (1.0 if addressed else 0.0)
    return scores


@dataclass
class _Unit:
    """A candidate question in a mailing: a labelled list item or a sentence ending in '?'."""

    label: str
    text: str
    start: int
    end: int
    line: int
    labelled: bool
    asks: bool  # ends in a question mark
    scores: dict[int, float]
    form: bool = False  # a form row ("Bijwerkingen: ....")


def _units(mailing: Mailing) -> list[_Unit]:
    lines = mailing.text.splitlines()
    units: list[_Unit] = []
    index = 0
    info = mailing.lines
    while index < len(lines):
        label, found, offset = info[index]
        if not found:
            index += 1
            continue
        if label:
            # a labelled item runs on over wrapped lines up to a blank line or the next label
            last = index
            while (last + 1 < len(lines) and info[last + 1][1] and not info[last + 1][0]
                   and last - index < 3 and _runs_on(lines[last], lines[last + 1])):
                last += 1
            toks = [t for i in range(index, last + 1) for t, _, _ in info[i][1]]
            text = " ".join(lines[i].strip() for i in range(index, last + 1))
            units.append(_Unit(label, text, offset, offset + len(toks), index, True,
                               "?" in text, {}))
            index = last + 1
            continue
        line = lines[index]
        cells = _form_cells(line, found, offset, index)
        if cells:
            # rows of a form to fill in: "Voorgeschreven door: ....", "Bijwerkingen: ____"
            units += cells
            index += 1
            continue
        # sentences ending in "?" inside ordinary lines (questions run together in a paragraph)
        position = 0
        for match in _SENTENCE_END.finditer(line):
            piece = line[position:match.end()]
            start_char = position
            position = match.end()
            inside = [i for i, (_, s, _) in enumerate(found) if start_char <= s < match.end()]
            if not inside:
                continue
            # a question that began on the line above (wrapped): take its tail there too
            head_tokens: list[str] = []
            if inside[0] == 0 and index > 0 and info[index - 1][1] \
                    and not lines[index - 1].rstrip().endswith(("?", ".", "!", ":")):
                prev = lines[index - 1]
                cut = max(prev.rfind(". "), prev.rfind("? "), prev.rfind("! "))
                head = [t for t, s, _ in info[index - 1][1] if s > cut]
                head_tokens = head
                piece = prev[cut + 1:].strip() + " " + piece.strip()
            toks = head_tokens + [found[i][0] for i in inside]
            start = offset + inside[0] - len(head_tokens)
            units.append(_Unit("", piece.strip(), start, start + len(toks), index, False, True,
                               {}))
        index += 1
    for unit in units:
        unit.scores = concept_scores(mailing.tokens[unit.start:unit.end])
    return units


def locate_questions(mailing: Mailing) -> tuple[Question, ...]:
    """Find the survey's questions in ``mailing`` by what they ask.

    Candidates are labelled list items and sentences ending in "?"; each is scored per
    question on the words of ``data/questions.toml``. The chosen set maximises the total
    score, gives each question its own candidate, and favours candidates that stand together
    (the question block) over a section heading or a rhetorical question elsewhere. A
    candidate that also asks a question no other one asks answers both ("Neemt u LDN, en wie
    schreef het voor?"); further blocks (the same questions in the other languages of a
    multilingual mailing) are found too."""
    units = _units(mailing)
    # a row ending in ":" is a form's row only among other such rows ("Gebruik: ...",
    # "Voorgeschreven door: ...", "Bijwerkingen: ..."), not a list's heading
    rows = [u for u in units if u.form]
    units = [u for u in units if u.scores and (u.asks or u.labelled) and (
        not u.form or sum(1 for r in rows if r is not u and abs(r.line - u.line) <= 4) >= 2)]
    questions: list[Question] = []
    for _ in range(_MAX_BLOCKS):
        found = _question_block(units)[1]
        if len(found) < (1 if not questions else 3):
            break
        questions += found
        taken = {(q.start, q.end) for q in found}
        units = [u for u in units if (u.start, u.end) not in taken]
    return tuple(sorted(questions, key=lambda q: (q.start, q.number)))


def _question_block(units: list[_Unit]) -> tuple[float, list[Question]]:
    """The best set of at most one candidate per question (see :func:`locate_questions`),
    and its score."""
    if not units:
        return 0.0, []
    best: tuple[float, tuple[_Unit | None, ...]] = (0.0, ())
    options: dict[int, list[_Unit | None]] = {}
    for number in range(1, 5):
        ranked = sorted((u for u in units if number in u.scores),
                        key=lambda u: -_weight(u, number))[:6]
        options[number] = [*ranked, None]
    for combo in itertools.product(*(options[n] for n in range(1, 5))):
        chosen = [u for u in combo if u is not None]
        if len({id(u) for u in chosen}) != len(chosen):
            continue
        total = sum(_weight(u, n) for n, u in zip(range(1, 5), combo, strict=True)
                    if u is not None)
        if len(chosen) > 1:
            spread = max(u.line for u in chosen) - min(u.line for u in chosen)
            total -= 0.15 * max(0, spread - 2 * len(chosen))
        if len(chosen) >= 3:
            # a question block is of one make (form rows, a numbered list, sentences asking):
            # an odd one out is more likely a heading or a remark near the block
            kinds = [_kind(u) for u in chosen]
            common = max(set(kinds), key=kinds.count)
            total -= 1.0 * sum(1 for k in kinds if k != common)
        if total > best[0]:
            best = (total, combo)
    picked = dict(zip(range(1, 5), best[1], strict=False))
    questions = [Question(number, unit.label, unit.text, unit.start, unit.end)
                 for number, unit in picked.items() if unit is not None]
    # a question nobody asks alone may be asked together with another one
    for number in range(1, 5):
        if picked.get(number) is not None:
            continue
        hosts = [u for u in picked.values() if u is not None and number in u.scores]
        if hosts:
            host = max(hosts, key=lambda u: u.scores[number])
            questions.append(Question(number, host.label, host.text, host.start, host.end))
    return best[0], questions


def _kind(unit: _Unit) -> str:
    return "form" if unit.form else "item" if unit.labelled else "sentence"


def _weight(unit: _Unit, number: int) -> float:
    score = unit.scores.get(number, 0.0)
    # a candidate that asks another question more strongly is a poor choice for this one
    rival = max((s for n, s in unit.scores.items() if n != number), default=0.0)
    return score + (1.0 if unit.labelled else 0.0) + (0.5 if unit.asks else 0.0) \
        - 0.5 * max(0.0, rival - score)


# -- finding quoted lines ----------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """Where a run of tokens stands in a mailing: ``mailing`` index, ``start``, ``length``."""

    mailing: int
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


#: Lines whose mailing runs a :class:`MailingSet` remembers.
_PREFIXES_KEPT = 8192


class MailingSet:
    """The mailings known at coding time, indexed for token lookup."""

    def __init__(self, mailings: Iterable[Mailing] = ()) -> None:
        unique: dict[str, Mailing] = {}
        for mailing in mailings:
            if mailing.tokens:
                unique.setdefault(mailing.key, mailing)
        self.mailings: tuple[Mailing, ...] = tuple(unique.values())
        #: (tokens, preferred run) -> longest run: a mailing's lines come back quoted in
        #: reply after reply (emptied when full)
        self._prefixes: dict[tuple[tuple[str, ...], Found | None], Found | None] = {}
        self._bigrams: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._unigrams: dict[str, list[tuple[int, int]]] = {}
        for index, mailing in enumerate(self.mailings):
            toks = mailing.tokens
            for position, tok in enumerate(toks):
                self._unigrams.setdefault(tok, []).append((index, position))
                if position + 1 < len(toks):
                    self._bigrams.setdefault((tok, toks[position + 1]), []).append(
                        (index, position))

    @cached_property
    def _question_starts(self) -> frozenset[tuple[int, int]]:
        return frozenset((index, q.start) for index, mailing in enumerate(self.mailings)
                         for q in mailing.questions)

    def __bool__(self) -> bool:
        return bool(self.mailings)

    def __len__(self) -> int:
        return len(self.mailings)

    @cached_property
    def subjects(self) -> frozenset[str]:
        """The mailings' names as subject keys (an added .eml's subject; a learned mailing
        is named after the subject its replies share)."""
        return frozenset(key for key in (subject_key(m.name) for m in self.mailings) if key)

    @cached_property
    def fingerprint(self) -> str:
        """Identity of this knowledge: records coded with another one may need re-coding."""
        if not self.mailings:
            return ""
        joined = ",".join(sorted(m.key for m in self.mailings))
        return hashlib.sha256(joined.encode()).hexdigest()[:16]

    def _candidates(self, toks: Sequence[str]) -> list[tuple[int, int]]:
        if len(toks) >= 2:
            # one word alone is mailing text only as a question's label ("Bijwerkingen: geen")
            return self._bigrams.get((toks[0], toks[1])) or [
                c for c in self._unigrams.get(toks[0], []) if c in self._question_starts]
        return self._unigrams.get(toks[0], []) if toks else []

    def longest_prefix(self, toks: Sequence[str], prefer: Found | None = None) -> Found | None:
        """The longest leading run of ``toks`` that is a run of some mailing's tokens; on a
        tie, the one continuing ``prefer`` (the previous quoted line)."""
        key = (tuple(toks), prefer)
        if key in self._prefixes:
            return self._prefixes[key]
        if len(self._prefixes) >= _PREFIXES_KEPT:
            self._prefixes.clear()
        best = self._prefixes[key] = self._longest_prefix(toks, prefer)
        return best

    def _longest_prefix(self, toks: Sequence[str], prefer: Found | None) -> Found | None:
        best: Found | None = None
        for index, start in self._candidates(toks):
            stream = self.mailings[index].tokens
            length = 0
            limit = min(len(toks), len(stream) - start)
            while length < limit and stream[start + length] == toks[length]:
                length += 1
            if length == 0:
                continue
            found = Found(index, start, length)
            if best is None or length > best.length or (
                    length == best.length and self._rank(found, prefer) > self._rank(best, prefer)):
                best = found
        return best

    def _rank(self, found: Found, prefer: Found | None) -> int:
        """Among runs as long: the one continuing the line above, then one that starts a
        question ("Bijwerkingen:" the label, not the word in a sentence)."""
        if prefer is not None and _continues(prefer, found):
            return 2
        return 1 if (found.mailing, found.start) in self._question_starts else 0

    def find(self, toks: Sequence[str], prefer: Found | None = None) -> Found | None:
        """Where the whole of ``toks`` is a run of some mailing's tokens (preferring the
        place right after ``prefer``), else None."""
        found = self.longest_prefix(toks, prefer)
        if found is None or found.length != len(toks):
            return None
        if prefer is not None and not _continues(prefer, found):
            for index, start in self._candidates(toks):
                candidate = Found(index, start, len(toks))
                if _continues(prefer, candidate) and \
                        self.mailings[index].tokens[start:start + len(toks)] == tuple(toks):
                    return candidate
        return found

    def question(self, found: Found) -> Question | None:
        return self.mailings[found.mailing].question_at(found.start, found.end)

    def last_question(self, found: Found) -> Question | None:
        """The question an answer typed after ``found`` answers: on a line asking several
        ("gebruik je LDN? / wie schreef het voor? / ..."), the last one it completes."""
        overlapping = [q for q in self.mailings[found.mailing].questions
                       if found.start < q.end and q.start < found.end]
        if not overlapping:
            return None
        # the last question completed on the line; else the one it starts or continues
        done = [q for q in overlapping if q.end <= found.end]
        if done:
            return max(done, key=lambda q: (q.start, q.number))
        return min(overlapping, key=lambda q: (q.start, q.number))

    def covers_question(self, found: Found) -> int:
        """The length in tokens of the whole question ``found`` begins with (a label the
        writer typed or kept, with an answer after it), 0 when it begins with none."""
        return max((q.end - q.start for q in self.mailings[found.mailing].questions
                    if q.start == found.start and q.end <= found.end), default=0)

    def numbers(self, found: Found) -> tuple[int, ...]:
        """Every codebook question the mailing asks where ``found`` stands (one question of
        a mailing may ask two)."""
        question = self.last_question(found)
        if question is None:
            return ()
        return tuple(sorted({q.number for q in self.mailings[found.mailing].questions
                             if (q.start, q.end) == (question.start, question.end)}))

    def continues(self, before: Found | None, after: Found) -> bool:
        return before is not None and _continues(before, after)


def _continues(before: Found, after: Found, slack: int = 2) -> bool:
    """Whether ``after`` starts where ``before`` ended in the same mailing (a wrapped line;
    a couple of tokens may be missing, e.g. list numbers a client left out)."""
    return before.mailing == after.mailing and 0 <= after.start - before.end <= slack


@lru_cache(maxsize=1)
def sample_mailing() -> Mailing:
    """The bundled sample mailing of the demo mailbox (not used unless added)."""
    text = resources.files("ldn_inbox").joinpath("data/sheet.nl.txt").read_text("utf-8")
    return Mailing(text, name="sample info sheet (demo)", source="sample")
