"""Learning lexicon entries from the reviewers' corrections (``ldn-inbox learn``).

A person who changes a field says what the message means; the words of that message that
other respondents also used when a person gave the same value are candidates for the lexicon
entry behind that value. A candidate is proposed only when

- at least :data:`MIN_RESPONDENTS` different respondents support it (records where a person
  changed the field to that value and whose own words hold the expression);
- it is a short expression (one to three words, no proper name, not only function words),
  not in that lexicon list yet, and rarer in reviewed records with another value;
- added alone, it codes at least two of its own records as the person did (it *explains* the
  correction);
- its measured effect is not negative, scored only on messages it did not come from: the
  reviewed records of other respondents, each supporting respondent's records when the
  expression is learned without that respondent (leave-one-respondent-out), and the dev sets;
  an expression the lexicons already use for something else (a use verb, a symptom) must
  show a gain there, not merely no loss.

Pure apart from the coder: items (raw bytes, mailings, known values) in, proposals out.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ldn_inbox.codebook import CODED_FIELDS
from ldn_inbox.parse.mailings import MailingSet
from ldn_inbox.parse.textnorm import fold
from ldn_inbox.serve.evaluate import equal

#: Different respondents an expression needs before it is proposed.
MIN_RESPONDENTS = 2
#: Longest expression, in words: longer ones are sentences, not lexicon entries.
MAX_WORDS = 3
#: Candidates measured per run (the best supported first): measuring re-codes messages.
MAX_CANDIDATES = 40

Entry = tuple[str, str, str, str]  # language, section, key, expression

_EXPERIENCES = ("positive", "no_effect", "negative", "mixed", "faded")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
_BREAK = re.compile(r"[.!?;:,()\[\]\n\"“”«»]+|\s[-–—]\s")


def target(field_name: str, value: Any) -> tuple[str, str] | None:
    """The lexicon list (section, key) whose entries make the coder give ``value`` to
    ``field_name``, or None when no list does (benefits, doses, kinds)."""
    if field_name == "ldn_use" and value in ("current", "past", "never"):
        return "use", str(value)
    if field_name == "prescriber" and value in ("gp", "other"):
        return "prescriber", str(value)
    if field_name == "prescriber" and value == "specialist":
        return "specialty", "unknown"
    if field_name == "prescriber_specialty" and isinstance(value, str):
        return "specialty", value
    if field_name == "experience" and value in _EXPERIENCES:
        return "experience", str(value)
    return None


def targets(field_name: str, human: Any, coder: Any) -> list[tuple[Any, str, str]]:
    """(value, section, key) for each value a person added that a lexicon list explains;
    for side effect types, each type the person added."""
    if field_name == "side_effect_codes":
        added = sorted(set(human or []) - set(coder or []))
        return [(code, "side_effect", str(code)) for code in added]
    found = target(field_name, human)
    return [(human, *found)] if found else []


@dataclass
class Item:
    """One message to learn from or score on: its bytes, the mailings it is coded with, the
    values known to be right, and (reviewed records) the fields a person changed."""

    ref: str
    respondent: str
    data: bytes
    mailings: MailingSet
    truth: dict[str, Any]
    #: field -> (human value, coder value) where a person changed the coder's value
    corrected: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    language: str | None = None
    own_text: str = ""
    baseline: dict[str, Any] = field(default_factory=dict)


def right(values: dict[str, Any], truth: dict[str, Any]) -> int:
    """How many known values the coded ``values`` get right."""
    return sum(equal(name, values.get(name), want) for name, want in truth.items())


def code_values(item: Item) -> tuple[dict[str, Any], str]:
    """The coder's values for ``item`` with the lexicons as they are now, and its own text."""
    from ldn_inbox.extract.coding import code
    from ldn_inbox.parse.mime import parse

    coded = code(parse(item.data), item.mailings)
    return {name: coded.values.get(name) for name in CODED_FIELDS}, coded.own_text


def prepare(items: Iterable[Item]) -> list[Item]:
    """Code every item once with the current lexicons (the baseline)."""
    out = []
    for item in items:
        try:
            item.baseline, item.own_text = code_values(item)
        except Exception:  # a message the coder cannot read teaches nothing
            continue
        item.language = item.language or item.baseline.get("language")
        out.append(item)
    return out


# --------------------------------------------------------------------------- candidates
def _stopwords(language: str) -> frozenset[str]:
    from ldn_inbox.parse.classify import _stopwords as function_words

    return function_words().get(language, frozenset())


def expressions(text: str, language: str) -> set[str]:
    """The short expressions of ``text``, folded: runs of one to :data:`MAX_WORDS` words
    inside one clause, neither starting nor ending with a function word, with a word of
    four letters or more, and no name (a capitalised word inside a sentence)."""
    stop = _stopwords(language)
    out: set[str] = set()
    for part in _BREAK.split(text):
        words = [(m.group(0), m.start()) for m in _WORD.finditer(part)]
        folded = [fold(w) for w, _ in words]
        named = [i > 0 and w[:1].isupper() and not w.isupper() for i, (w, _) in
                 enumerate(words)]
        for size in range(1, MAX_WORDS + 1):
            for start in range(len(words) - size + 1):
                span = folded[start:start + size]
                if any(named[start:start + size]) or span[0] in stop or span[-1] in stop:
                    continue
                if not any(len(w) >= 4 for w in span) or any(len(w) < 2 for w in span):
                    continue
                out.add(" ".join(span))
    return out


@dataclass
class Candidate:
    """A proposed lexicon entry with its support and measured effect."""

    field: str
    value: Any
    language: str
    section: str
    key: str
    expression: str
    supporters: list[Item]
    #: already an entry of the language's lexicon, for something else
    in_lexicon: bool = False
    against: int = 0
    fixes: int = 0
    gain_reviewed: int = 0
    scored_reviewed: int = 0
    gain_dev: int = 0
    scored_dev: int = 0

    @property
    def entry(self) -> Entry:
        return self.language, self.section, self.key, self.expression

    @property
    def respondents(self) -> set[str]:
        return {item.respondent for item in self.supporters}

    @property
    def records(self) -> list[str]:
        return sorted({item.ref for item in self.supporters}, key=_natural)


def _natural(ref: str) -> tuple[int, str]:
    return (int(ref), "") if ref.isdigit() else (1 << 62, ref)


def _known_here(section: str, key: str, language: str) -> set[str]:
    from ldn_inbox.extract._text import load_lexicon

    return {" ".join(fold(e).split()) for e in load_lexicon(language).words(section, key)}


def _known(language: str) -> set[str]:
    """Every entry of the language's lexicon, folded: an expression that already means
    something to the coder (a use verb, a symptom) is no entry for another value."""
    from ldn_inbox.extract._text import load_lexicon

    lexicon = load_lexicon(language)
    entries = [t.text for t in lexicon.terms + lexicon.prefix_terms + lexicon.suffix_terms]
    entries += [t.text for terms in lexicon.gap_terms.values() for t, _, _ in terms]
    return {" ".join(fold(e).strip("* ").split()) for e in entries}


def _has(item: Item, field_name: str, value: Any) -> bool | None:
    """Whether the right value of ``field_name`` is (or holds) ``value``; None: unknown."""
    if field_name not in item.truth:
        return None
    want = item.truth[field_name]
    if field_name == "side_effect_codes":
        return value in (want or [])
    return bool(equal(field_name, want, value))


def candidates(items: Sequence[Item], *, min_respondents: int = MIN_RESPONDENTS
               ) -> list[Candidate]:
    """Expressions shared by the corrected records of ``min_respondents`` or more different
    respondents for one (field, value, language), not already in that lexicon list and more
    often met with that value than with another among the reviewed records."""
    phrases: dict[str, set[str]] = {}
    support: dict[tuple[str, str, str, str, str, str], list[Item]] = defaultdict(list)
    values: dict[str, Any] = {}
    from ldn_inbox.extract._text import LANGUAGES

    for item in items:
        if not item.corrected or item.language not in LANGUAGES:
            continue
        phrases[item.ref] = expressions(item.own_text, item.language)
        for field_name, (human, coder) in item.corrected.items():
            for value, section, key in targets(field_name, human, coder):
                values[json.dumps(value)] = value
                for phrase in phrases[item.ref]:
                    support[(field_name, json.dumps(value), item.language, section, key,
                             phrase)].append(item)
    found: list[Candidate] = []
    known: dict[str, set[str]] = {}
    for (field_name, value_key, language, section, key, phrase), supporters \
            in support.items():
        if len({i.respondent for i in supporters}) < min_respondents:
            continue
        if language not in known:
            known[language] = _known(language)
        if phrase in _known_here(section, key, language):
            continue
        found.append(Candidate(field_name, values[value_key], language, section, key,
                               phrase, supporters, in_lexicon=phrase in known[language]))
    kept = []
    for candidate in found:
        candidate.against = _against(candidate, items, phrases)
        if candidate.against * 2 <= len(candidate.supporters):
            kept.append(candidate)
    kept = _shortest(kept)
    kept.sort(key=lambda c: (-len(c.respondents), c.against, len(c.expression.split()),
                             c.expression))
    return kept[:MAX_CANDIDATES]


def _against(candidate: Candidate, items: Sequence[Item], phrases: dict[str, set[str]]
             ) -> int:
    """Reviewed records of the language whose right value is another one but which hold
    the expression."""
    count = 0
    for item in items:
        if item.language != candidate.language or \
                _has(item, candidate.field, candidate.value) is not False:
            continue
        found = phrases.get(item.ref)
        if found is None:
            found = phrases[item.ref] = expressions(item.own_text, candidate.language)
        count += candidate.expression in found
    return count


def _shortest(found: list[Candidate]) -> list[Candidate]:
    """Drop an expression when a shorter one inside it has the same target and at least its
    respondents: "de kruidendokter" adds nothing to "kruidendokter"."""
    by_target: dict[tuple[str, str, str, str], dict[str, Candidate]] = defaultdict(dict)
    for c in found:
        by_target[(c.field, json.dumps(c.value), c.language, c.key)][c.expression] = c
    out = []
    for c in found:
        words = c.expression.split()
        same = by_target[(c.field, json.dumps(c.value), c.language, c.key)]
        inner = (" ".join(words[i:j]) for i in range(len(words))
                 for j in range(i + 1, len(words) + 1) if j - i < len(words))
        if not any(p in same and same[p].respondents >= c.respondents for p in inner):
            out.append(c)
    return out


# --------------------------------------------------------------------------- measuring
def _touches(item: Item, entries: Sequence[Entry]) -> bool:
    """Whether an entry may match in ``item``'s own words (each word's first five letters,
    so a typo the fuzzy matcher accepts still counts)."""
    text = fold(item.own_text)
    return any(language == item.language and all(w[:5] in text for w in expression.split())
               for language, _, _, expression in entries)


class Measure:
    """Re-codes items with extra lexicon entries on top of a base overlay."""

    def __init__(self, base: Sequence[Entry]) -> None:
        self.base = list(base)

    def gain(self, entries: Sequence[Entry], items: Iterable[Item]) -> tuple[int, int]:
        """Fields right with ``entries`` added minus fields right without, over ``items``
        the entries may touch; and how many items were re-coded."""
        from ldn_inbox.extract._text import set_lexicon_overlay

        touched = [item for item in items if _touches(item, entries)]
        if not touched:
            return 0, 0
        set_lexicon_overlay([*self.base, *entries])
        try:
            delta = 0
            for item in touched:
                try:
                    values, _ = code_values(item)
                except Exception:
                    continue
                delta += right(values, item.truth) - right(item.baseline, item.truth)
            return delta, len(touched)
        finally:
            set_lexicon_overlay(self.base)

    def fixes(self, candidate: Candidate) -> int:
        """Of the candidate's own records, how many respondents' the entry alone codes as
        the person did (in-sample: it says the entry explains, not that it generalises)."""
        from ldn_inbox.extract._text import set_lexicon_overlay

        set_lexicon_overlay([*self.base, candidate.entry])
        try:
            fixed = set()
            for item in candidate.supporters:
                values, _ = code_values(item)
                if _has_value(values, candidate.field, candidate.value):
                    fixed.add(item.respondent)
            return len(fixed)
        finally:
            set_lexicon_overlay(self.base)


def _has_value(values: dict[str, Any], field_name: str, value: Any) -> bool:
    if field_name == "side_effect_codes":
        return value in (values.get(field_name) or [])
    return bool(equal(field_name, values.get(field_name), value))


def _still_learned(candidate: Candidate, without: str, min_respondents: int) -> bool:
    rest = {i.respondent for i in candidate.supporters if i.respondent != without}
    kept = sum(1 for i in candidate.supporters if i.respondent != without)
    return len(rest) >= min_respondents and candidate.against * 2 <= kept


def measure(candidate: Candidate, reviewed: Sequence[Item], dev: Sequence[Item],
            measure_with: Measure, *, min_respondents: int = MIN_RESPONDENTS) -> None:
    """Score ``candidate`` on messages it was not learned from: the reviewed records of
    other respondents; each supporting respondent's records when the expression is still
    learned without that respondent; the dev sets."""
    own = candidate.respondents
    others = [item for item in reviewed if item.respondent not in own]
    gain, scored = measure_with.gain([candidate.entry], others)
    for respondent in sorted(own):
        if _still_learned(candidate, respondent, min_respondents):
            held_out = [item for item in reviewed if item.respondent == respondent]
            delta, count = measure_with.gain([candidate.entry], held_out)
            gain, scored = gain + delta, scored + count
    candidate.gain_reviewed, candidate.scored_reviewed = gain, scored
    candidate.gain_dev, candidate.scored_dev = measure_with.gain([candidate.entry], dev)


@dataclass
class Learned:
    """What a ``learn`` run found: the proposals and what was looked at."""

    proposals: list[Candidate]
    corrected: int
    reviewed: int
    dev: int
    considered: int
    combined_dev: int = 0
    combined_reviewed: int = 0


def learn(reviewed: Sequence[Item], dev: Sequence[Item], *, base: Sequence[Entry] = (),
          min_respondents: int = MIN_RESPONDENTS,
          progress: Callable[[int, int], None] | None = None) -> Learned:
    """Propose lexicon entries from the corrections in ``reviewed`` (items already
    :func:`prepare`-d), each measured as the module says; then check them together on the
    dev sets and the reviewed records, dropping the weakest until neither loses."""
    min_respondents = max(MIN_RESPONDENTS, min_respondents)
    found = candidates(reviewed, min_respondents=min_respondents)
    measure_with = Measure(base)
    proposals = []
    for number, candidate in enumerate(found, 1):
        if progress is not None:
            progress(number, len(found))
        candidate.fixes = measure_with.fixes(candidate)
        if candidate.fixes < min_respondents:
            continue
        measure(candidate, reviewed, dev, measure_with, min_respondents=min_respondents)
        if candidate.gain_reviewed >= 0 and candidate.gain_dev >= 0 and (
                not candidate.in_lexicon or candidate.gain_reviewed + candidate.gain_dev > 0):
            proposals.append(candidate)
    proposals = _one_per_expression(proposals)
    proposals.sort(key=lambda c: (-(c.gain_dev + c.gain_reviewed), -c.fixes, c.expression))
    together_dev = together_reviewed = 0
    while proposals:
        entries = [c.entry for c in proposals]
        together_dev, _ = measure_with.gain(entries, dev)
        together_reviewed, _ = measure_with.gain(
            entries, [i for i in reviewed if not i.corrected])
        if together_dev >= 0 and together_reviewed >= 0:
            break
        proposals.pop()
    return Learned(proposals, sum(1 for i in reviewed if i.corrected), len(reviewed),
                   len(dev), len(found), together_dev, together_reviewed)


def _one_per_expression(proposals: list[Candidate]) -> list[Candidate]:
    """An expression proposed for two values of one field explains neither: drop both."""
    seen: dict[tuple[str, str, str], int] = defaultdict(int)
    for c in proposals:
        seen[(c.language, c.field, c.expression)] += 1
    return [c for c in proposals if seen[(c.language, c.field, c.expression)] == 1]


# --------------------------------------------------------------------------- the overlay file
def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def overlay_text(learned: Learned, *, when: datetime) -> str:
    """The proposals as a TOML overlay for people to check and ``learn --apply``."""
    lines = [
        f"# Lexicon additions learned from the reviewers' corrections ({when:%Y-%m-%d %H:%M} "
        "UTC).",
        f"# {learned.corrected} corrected records among {learned.reviewed} reviewed; "
        f"{learned.dev} dev-set messages; {learned.considered} expressions measured.",
        "# Check each entry: delete it or set accept = false to leave it out, then run",
        "#   ldn-inbox learn --apply THIS_FILE",
        "# records: the records it was learned from (ldn-inbox review show '#12');",
        "# fixes: how many of their respondents the entry alone codes as the person did;",
        "# gain_reviewed: fields right minus fields wrong it brings on reviewed records it",
        "# was not learned from (other respondents, and each supporting respondent when",
        "# learned without that respondent), over scored_reviewed records it touches;",
        "# gain_dev: the same on the dev sets.",
        f"# All entries together: dev sets {learned.combined_dev:+d}, reviewed records not "
        f"corrected {learned.combined_reviewed:+d}.",
    ]
    for c in learned.proposals:
        lines += ["", "[[entry]]"]
        for name, value in (
                ("field", c.field), ("value", c.value), ("language", c.language),
                ("section", c.section), ("key", c.key), ("expression", c.expression),
                ("records", [int(r) if r.isdigit() else r for r in c.records]),
                ("respondents", len(c.respondents)), ("fixes", c.fixes),
                ("gain_reviewed", c.gain_reviewed), ("scored_reviewed", c.scored_reviewed),
                ("gain_dev", c.gain_dev), ("scored_dev", c.scored_dev), ("accept", True)):
            lines.append(f"{name} = {_toml(value)}")
    return "\n".join(lines) + "\n"
