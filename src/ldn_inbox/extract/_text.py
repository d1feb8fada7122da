"""Text machinery for the extractor: tokens, sentences and clauses, fuzzy lexicon matching,
and ConText-style negation.

A :class:`Doc` is built once per message; every question module reads the same hits.
Lexicons live in ``ldn_inbox/data/lexicon/<lang>.toml`` (see docs/extraction.md); each is
loaded and indexed once per process.
"""

from __future__ import annotations

import re
import sys
import tomllib
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from operator import attrgetter
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from ldn_inbox.parse.classify import LEXICON_ONLY
from ldn_inbox.parse.textnorm import fold

_CODEBOOK_LANGUAGES = frozenset(("nl", "fr", "en", "de"))
#: the languages with a lexicon: the codebook's four, and those it counts as ``other`` that
#: members write in (Belgium's Italian and Spanish speakers)
LANGUAGES = ("nl", "fr", "en", "de", *LEXICON_ONLY)
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+(?:['’][^\W\d_]+)?|[/]", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n\s*|(?<=[.!?])$")
#: A single line break ends a sentence unless it wraps a long line into a lower-case one.
_WRAP_WIDTH = 60
_WRAP_NARROWEST = 72
_WRAP_MAX = 80
#: A period after these ends no sentence ("voorgeschreven door dr. Bogaert, neuroloog").
_ABBREVIATION = re.compile(
    r"(?:^|[\s(])(?:dr|drs|dra|dott|dokter|prof|mevr|mw|dhr|mr|mme|mlle|mm|st|bv|vb|nr|ca|resp|ir|ing)"
    r"\.$", re.IGNORECASE)
#: A line break, and the indent of the next line (read here: stripping a copy of the rest of
#: the text at each line break was quadratic)
_LINE_BREAK = re.compile(r"\n(?=([ \t]*))")
_CLAUSE_PUNCT = re.compile(r"[,;:()]|\s[-–—]\s|\.\.\.|…")
#: A word or two in brackets inside a clause ("ik gebruik het (nog) niet"): no clause break.
_SHORT_ASIDE = re.compile(r"\(\s*[^\W\d_]+(?:\s+[^\W\d_]+)?\s*\)")


#: Tokens and hits are made by the thousand and never changed once made: plain slotted
#: dataclasses, hashed by value as frozen ones are (a frozen dataclass is several times
#: slower to build).
@dataclass(slots=True, unsafe_hash=True)
class Token:
    text: str
    norm: str
    start: int
    end: int


@dataclass(frozen=True)
class Term:
    """One lexicon entry: its concept (``section.key``), folded words, and prefix flags."""

    concept: str
    words: tuple[str, ...]
    prefix: tuple[bool, ...]
    text: str


@dataclass
class Lexicon:
    """A language's lexicon, indexed by first word for matching."""

    language: str
    data: dict[str, Any]
    terms: list[Term] = field(default_factory=list)
    by_first: dict[str, list[Term]] = field(default_factory=lambda: defaultdict(list))
    prefix_terms: list[Term] = field(default_factory=list)
    prefix_by_head: dict[str, list[Term]] = field(default_factory=lambda: defaultdict(list))
    #: one-word terms written "*word": match any token ending in it ("*pijn": rugpijn)
    suffix_terms: list[Term] = field(default_factory=list)
    #: two words with up to N others between, written "word ~N word" ("licht ~2 hoofd": licht
    #: in het hoofd, licht in mijn hoofd), by first word: (term, second word, N)
    gap_terms: dict[str, list[tuple[Term, str, int]]] = field(
        default_factory=lambda: defaultdict(list))
    vocabulary: list[str] = field(default_factory=list)
    symptoms: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: real words never read as a typo of a lexicon word ("geleden" is no "gelezen")
    not_typos: frozenset[str] = frozenset()
    #: (word, next word, fuzzy) -> the terms that may start there (see ``_starting_at``)
    pair_cache: dict[tuple[str, str | None, bool], _Starting] = field(default_factory=dict)
    #: (word, fuzzy) -> what may start at it, whatever follows (see ``_word_starts``)
    word_cache: dict[tuple[str, bool], _WordStarts] = field(default_factory=dict)
    #: first word -> its terms by second word (see ``_Followers``), built when first met
    followers: dict[str, _Followers] = field(default_factory=dict)
    #: (section, key) -> its entries spelled as tokens are (see ``spelled``)
    spelled_words: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    #: the one-word negation terminators, spelled as tokens are (see ``_terminators``)
    terminators: frozenset[str] | None = None

    def words(self, section: str, key: str) -> list[str]:
        value = self.data.get(section, {}).get(key, [])
        return list(value) if isinstance(value, list) else []

    def spelled(self, section: str, key: str) -> frozenset[str]:
        """The entries of ``section.key`` folded and spelled as the text's tokens are (made
        once per lexicon: every text asks for them)."""
        found = self.spelled_words.get((section, key))
        if found is None:
            spell = spelling if self.language == "nl" else _plain
            found = self.spelled_words[(section, key)] = frozenset(
                " ".join(spell(part) for part in fold(w).split())
                for w in self.words(section, key))
        return found


def _add_terms(lexicon: Lexicon, concept: str, entries: list[str]) -> None:
    spell = spelling if lexicon.language == "nl" else _plain
    for entry in entries:
        if entry.startswith("*") and " " not in entry.strip():
            word = spell(fold(entry.strip("* ")))
            if word:
                lexicon.suffix_terms.append(Term(concept, (word,), (False,), entry))
            continue
        gap = _GAP_TERM.match(fold(entry).strip())
        if gap:
            first, second = spell(gap.group(1)), spell(gap.group(3))
            lexicon.gap_terms[first].append(
                (Term(concept, (first, second), (False, False), entry), second,
                 int(gap.group(2))))
            continue
        parts = [spell(p) for p in fold(entry).replace("’", "'").split() if p]
        words: list[str] = []
        prefix: list[bool] = []
        for part in parts:
            is_prefix = part.endswith("*")
            part = part.rstrip("*")
            tokens = [t.group(0) for t in _TOKEN.finditer(part)]
            if not tokens:
                continue
            words.extend(tokens)
            prefix.extend([False] * (len(tokens) - 1) + [is_prefix])
        if not words:
            continue
        term = Term(concept, tuple(words), tuple(prefix), entry)
        lexicon.terms.append(term)
        if prefix[0]:
            lexicon.prefix_terms.append(term)
            lexicon.prefix_by_head[words[0][:3]].append(term)
        else:
            lexicon.by_first[words[0]].append(term)


_SUBJECT_KEYS = ("self", "proxy_self", "drug")
_GAP_WORD = r"[^\W\d_]+(?:['’][^\W\d_]+)?"
_GAP_TERM = re.compile(rf"^({_GAP_WORD})\s+~(\d)\s+({_GAP_WORD})$")


@lru_cache(maxsize=8)
def load_lexicon(language: str) -> Lexicon:
    """The lexicon of ``language`` (nl, fr, en, de), parsed and indexed once."""
    path = resources.files("ldn_inbox").joinpath(f"data/lexicon/{language}.toml")
    data = _with_overlay(language, tomllib.loads(path.read_text("utf-8")))
    lexicon = Lexicon(language, data)
    for section, table in data.items():
        if section == "words":
            spell = spelling if language == "nl" else _plain
            lexicon.not_typos = frozenset(spell(fold(str(w))) for w in table.get("not_typos", []))
            continue
        if section == "symptom":
            for name, spec in table.items():
                lexicon.symptoms[name] = spec
                _add_terms(lexicon, f"symptom.{name}", list(spec.get("terms", [])))
            continue
        for key, entries in table.items():
            if isinstance(entries, list):
                # who and what a use statement is about: their own section, so a longer
                # use hit ("ik pak") does not swallow its subject ("ik")
                target = "subject" if section == "use" and key in _SUBJECT_KEYS else section
                _add_terms(lexicon, f"{target}.{key}", [str(e) for e in entries])
    lexicon.vocabulary = sorted({w for w in lexicon.by_first if len(w) >= FUZZY_MIN_LEN})
    return lexicon


#: Extra entries added to the packaged lexicons: language -> section -> key -> entries
#: (``ldn-inbox learn --apply``). Set with :func:`set_lexicon_overlay`.
_OVERLAY: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {}


#: The doctors of one language that writers of another borrow ("my huisarts", "mijn médecin
#: traitant", "ma reumatoloog"): GPs and named specialties, not the generic words
_BORROWED = {"prescriber": ("gp",), "specialty": ("rheumatology", "physical_medicine",
                                                  "neurology", "pain_medicine",
                                                  "internal_medicine", "psychiatry")}


@lru_cache(maxsize=32)
def borrowed_doctors(language: str, spelled_as: str) -> Lexicon:
    """The GP and specialty words of ``language``, indexed for a text in ``spelled_as``."""
    source = load_lexicon(language).data
    lexicon = Lexicon(spelled_as, {})
    for section, keys in _BORROWED.items():
        for key in keys:
            entries = source.get(section, {}).get(key, [])
            _add_terms(lexicon, f"{section}.{key}",
                       [str(e) for e in entries if not str(e).startswith("*")])
    return lexicon


def _with_overlay(language: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the overlay's entries for ``language`` appended (a copy; the packaged
    entries are never changed). Only lists of a section that exists are extended."""
    extra = _OVERLAY.get(language)
    if not extra:
        return data
    out = dict(data)
    for section, keys in extra.items():
        table = out.get(section)
        if not isinstance(table, dict) or section == "symptom":
            continue
        table = dict(table)
        for key, entries in keys.items():
            known = table.get(key, [])
            if isinstance(known, list):
                table[key] = known + [e for e in entries if e not in known]
        out[section] = table
    return out


def set_lexicon_overlay(entries: Iterable[tuple[str, str, str, str]]) -> None:
    """Code from now on with the packaged lexicons plus ``entries``: (language, section,
    key, expression) tuples, as ``ldn-inbox learn`` proposes them. An empty iterable goes
    back to the packaged lexicons alone. Clears the caches built from the lexicons."""
    overlay: dict[str, dict[str, dict[str, list[str]]]] = {}
    for language, section, key, expression in entries:
        slot = overlay.setdefault(language, {}).setdefault(section, {}).setdefault(key, [])
        if expression not in slot:
            slot.append(expression)
    frozen = {lang: {sec: {key: tuple(v) for key, v in keys.items()}
                     for sec, keys in secs.items()} for lang, secs in overlay.items()}
    if frozen == _OVERLAY:
        return
    _OVERLAY.clear()
    _OVERLAY.update(frozen)
    load_lexicon.cache_clear()
    _fuzzy_first.cache_clear()
    _vocabulary_by_start.cache_clear()


def lexicon_overlay() -> list[tuple[str, str, str, str]]:
    """The entries now added to the packaged lexicons (see :func:`set_lexicon_overlay`)."""
    return [(lang, sec, key, expression) for lang, secs in _OVERLAY.items()
            for sec, keys in secs.items() for key, values in keys.items()
            for expression in values]


def load_lexicon_overlay(path: str | Path) -> list[tuple[str, str, str, str]]:
    """The entries of an overlay file: a TOML file with ``[[entry]]`` tables holding
    ``language``, ``section``, ``key`` and ``expression`` (others are ignored; an entry
    with ``accept = false`` is left out). Raises ValueError naming what is wrong."""
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    out: list[tuple[str, str, str, str]] = []
    for number, entry in enumerate(data.get("entry", []), 1):
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: entry {number} is not a table")
        if entry.get("accept", True) is False:
            continue
        parts = [entry.get(name) for name in ("language", "section", "key", "expression")]
        if not all(isinstance(p, str) and p.strip() for p in parts):
            raise ValueError(f"{path}: entry {number} needs language, section, key and "
                             "expression (text)")
        if parts[0] not in LANGUAGES:
            raise ValueError(f"{path}: entry {number}: language must be one of "
                             f"{', '.join(LANGUAGES)}")
        out.append((str(parts[0]), str(parts[1]), str(parts[2]), str(parts[3]).strip()))
    return out


@lru_cache(maxsize=1)
def available_languages() -> tuple[str, ...]:
    base = resources.files("ldn_inbox").joinpath("data/lexicon")
    return tuple(lang for lang in LANGUAGES if base.joinpath(f"{lang}.toml").is_file())


#: Words shorter than this must match exactly (or by a prefix term): "wekker" is no
#: "wakker", "raken" no "braken".
FUZZY_MIN_LEN = 7


def _fuzzy_cutoff(word: str) -> float:
    # one typo in a word of 7-10 letters, about one per six letters beyond:
    # "geopereerd" is no "geprobeerd", "herbeginnen" no "herbegonnen"
    return 85.0 if len(word) <= 10 else 84.0


def _same_start(word: str, token: str) -> bool:
    return word[0] == token[0] or (word[0] == "h" and word[1:2] == token[0])


@lru_cache(maxsize=8)
def _vocabulary_by_start(language: str) -> dict[str, list[str]]:
    """The lexicon's vocabulary by the letter a token must start with to match each word
    (:func:`_same_start`), in vocabulary order."""
    groups: dict[str, list[str]] = {}
    for word in load_lexicon(language).vocabulary:
        starts = {word[0]}
        if word[0] == "h" and len(word) > 1:
            starts.add(word[1])
        for start in starts:
            groups.setdefault(start, []).append(word)
    return groups


@lru_cache(maxsize=65536)
def _fuzzy_first(language: str, norm: str) -> str | None:
    """The lexicon word closest to ``norm`` (a typo of it), if close enough."""
    if len(norm) < FUZZY_MIN_LEN or norm.isdigit() or norm in load_lexicon(language).not_typos:
        return None
    # a typo rarely hits the first letter ("started" is no "restarted"), but Flemish drops
    # an initial h ("uusdokter", "eb")
    candidates = [w for w in _vocabulary_by_start(language).get(norm[0], ())
                  if abs(len(w) - len(norm)) <= 2]
    best = process.extractOne(norm, candidates, scorer=fuzz.ratio,
                              score_cutoff=_fuzzy_cutoff(norm))
    return None if best is None else str(best[0])


def _word_matches(token: str, word: str, is_prefix: bool, fuzzy: bool = True) -> bool:
    if token == word:
        return True
    if is_prefix:
        return token.startswith(word)
    if fuzzy and len(word) >= FUZZY_MIN_LEN and len(token) >= FUZZY_MIN_LEN \
            and abs(len(word) - len(token)) <= 2 and _same_start(word, token):
        return fuzz.ratio(token, word) >= _fuzzy_cutoff(word)
    return False


@dataclass(slots=True, unsafe_hash=True)
class Hit:
    """A lexicon term found in the text: token range [first, last) and character span."""

    concept: str
    first: int
    last: int
    start: int
    end: int
    term: str
    section: str = field(init=False, compare=False)
    key: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        # (shared per concept: a long text has hundreds of thousands of hits, of a few
        # dozen concepts)
        parts = _CONCEPT_PARTS.get(self.concept)
        if parts is None:
            section, _, key = self.concept.partition(".")
            parts = _CONCEPT_PARTS[self.concept] = (sys.intern(section), sys.intern(key))
        self.section, self.key = parts


#: concept -> its section and key (see ``Hit``)
_CONCEPT_PARTS: dict[str, tuple[str, str]] = {}


@dataclass(slots=True)
class Clause:
    start: int
    end: int
    first: int  # token index range [first, last)
    last: int
    sentence: int
    segment: int = 0
    is_question: bool = False


@dataclass
class Doc:
    """A message's own text with tokens, clauses and lexicon hits."""

    text: str
    language: str
    tokens: list[Token]
    clauses: list[Clause]
    hits: list[Hit]
    sentence_spans: list[tuple[int, int]]
    lexicons: list[Lexicon]
    by_section: dict[str, list[Hit]] = field(default_factory=dict)
    #: clause of each token, and token range of each sentence (lookups are hot)
    _token_clause: list[Clause | None] = field(default_factory=list)
    _sentence_range: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: per section: hit starts sorted, the hits in that order, and their places in
    #: ``by_section`` (None when that is the same order: hits come in text order)
    _starts: dict[str, tuple[list[int], list[Hit], list[int] | None]] = field(
        default_factory=dict)
    _clause_at: dict[tuple[int, int], Clause] = field(default_factory=dict)
    _topics: list[tuple[int, int, str]] | None = None
    _words: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for hit in self.hits:
            self.by_section.setdefault(hit.section, []).append(hit)
        self._token_clause = [None] * len(self.tokens)
        for clause in self.clauses:
            self._token_clause[clause.first:clause.last] = [clause] * (clause.last - clause.first)
            first, last = self._sentence_range.get(clause.sentence, (clause.first, clause.last))
            self._sentence_range[clause.sentence] = (min(first, clause.first),
                                                     max(last, clause.last))
            self._clause_at.setdefault((clause.sentence, clause.first), clause)
        for section, hits in self.by_section.items():
            if all(a.first <= b.first for a, b in pairwise(hits)):
                self._starts[section] = ([h.first for h in hits], hits, None)
                continue
            places = sorted(range(len(hits)), key=lambda place: hits[place].first)
            self._starts[section] = ([hits[place].first for place in places],
                                     [hits[place] for place in places], places)

    def clause_of(self, token_index: int) -> Clause | None:
        if 0 <= token_index < len(self._token_clause):
            return self._token_clause[token_index]
        return None

    def sentence_range(self, sentence: int) -> tuple[int, int]:
        """Token range [first, last) of sentence number ``sentence``."""
        return self._sentence_range[sentence]

    def has_sentence(self, sentence: int) -> bool:
        """Whether sentence number ``sentence`` has words (a line of punctuation alone, a
        "***" between paragraphs, has none, and no range)."""
        return sentence in self._sentence_range

    def hits_of(self, section: str, key: str | None = None) -> list[Hit]:
        return [h for h in self.by_section.get(section, ())
                if key is None or h.key == key]

    def hits_in(self, first: int, last: int, section: str,
                key: str | None = None) -> list[Hit]:
        """Hits of ``section`` inside tokens [first, last), in ``by_section`` order
        (a bisection on their starts: long texts call this for every hit)."""
        index = self._starts.get(section)
        if index is None:
            return []
        starts, ordered, places = index
        low = bisect_left(starts, first)
        high = bisect_left(starts, last, low)
        if places is None:
            return [hit for hit in ordered[low:high]
                    if hit.last <= last and (key is None or hit.key == key)]
        found = [position for position in range(low, high) if ordered[position].last <= last
                 and (key is None or ordered[position].key == key)]
        found.sort(key=places.__getitem__)
        return [ordered[position] for position in found]

    def topic_at(self, position: int) -> str:
        """What the paragraph holding character ``position`` is about, in a story of
        several paragraphs: ``drug`` (it names LDN, or carries on a paragraph that did),
        ``other`` (another treatment, LDN unnamed), ``background`` (the illness, life, before
        LDN comes up) or ``any`` (a text too short to tell)."""
        if self._topics is None:
            self._topics = self._paragraph_topics()
        for start, end, topic in self._topics:
            if start <= position < end:
                return topic
        return "any"

    def _paragraph_topics(self) -> list[tuple[int, int, str]]:
        """Topic spans, sentence by sentence: a sentence naming LDN turns the topic to the
        drug, one naming another treatment (and not LDN) to that; other sentences carry the
        topic on within their paragraph, and a new paragraph carries on only the drug."""
        bounds = [0] + [m.end() for m in re.finditer(r"\n[ \t]*\n", self.text)] + [
            len(self.text) + 1]
        paragraphs = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)
                      if self.text[bounds[i]:bounds[i + 1]].strip()]
        drug = [h for h in self.by_section.get("subject", ())
                if h.key == "drug" and h.term.startswith(("ldn", "naltrex", "low dose",
                                                          "lage dosis", "faible dose"))]
        other = self.hits_of("context", "other_drug")
        verbs = self.hits_of("prescribe", "verb")
        if len(paragraphs) < 3 or not drug:
            return [(start, end, "any") for start, end in paragraphs]
        # a paragraph opening with a yes or a no answers the mailing's question on the drug
        answering = {h.start for h in self.by_section.get("answer", ())
                     if self.text[h.end:h.end + 1] in (",", ".", "!", "\n")}
        out: list[tuple[int, int, str]] = []
        state = "background"
        for start, end in paragraphs:
            if state != "drug":
                opening = len(self.text[start:end]) - len(self.text[start:end].lstrip())
                state = "drug" if start + opening in answering else "background"
            pieces = [(max(a, start), min(b, end)) for a, b in self.sentence_spans
                      if a < end and b > start] or [(start, end)]
            for index, (a, b) in enumerate(pieces):
                a = start if index == 0 else a
                b = end if index == len(pieces) - 1 else b
                if any(a <= h.start < b for h in drug) or _LOW_DOSE.search(self.text, a, b):
                    state = "drug"  # LDN named, or a dose only LDN comes in ("1,5 mg")
                elif any(a <= h.start < b for h in other) and not any(
                        a <= h.start < b for h in verbs):
                    state = "other"  # (not "heeft het voorgeschreven, na jaren Lyrica")
                out.append((a, b, state))
        return out

    def clause_starting(self, sentence: int, first: int) -> Clause | None:
        """The clause of sentence ``sentence`` that starts at token ``first``."""
        return self._clause_at.get((sentence, first))

    def words(self, section: str, key: str) -> frozenset[str]:
        """The folded, spelled entries of ``section.key`` in the text's lexicons (built once
        per text: rules ask for the same list many times)."""
        cached = self._words.get((section, key))
        if cached is None:
            cached = self._words[(section, key)] = frozenset().union(
                *(lexicon.spelled(section, key) for lexicon in self.lexicons))
        return cached


#: A dose of at most 5 mg: low-dose naltrexone, not the other treatments (Lyrica 75 mg).
_LOW_DOSE = re.compile(r"(?<![\d,.])(?:[0-4](?:[.,]\d{1,2})?|5)\s*(?:mg|milligram)\b", re.I)

def names_low_dose(text: str) -> bool:
    """Whether ``text`` names a dose only LDN comes in ("0,5 mg", "4.5mg")."""
    return _LOW_DOSE.search(text) is not None


#: Whole words written as spoken ("nie" for "niet").
_DIALECT_WORDS = {"nie": "niet", "ni": "niet", "neet": "niet", "gein": "geen", "gene": "geen",
                  "gin": "geen", "giene": "geen", "gieen": "geen", "noeits": "nooit",
                  "nooits": "nooit", "ich": "ik", "nae": "nee", "vruig": "vroeg"}


@lru_cache(maxsize=65536)
def spelling(word: str) -> str:
    """One spelling for the variants of Flemish dialect writing, applied alike to the text
    and to every lexicon term: "y" for "ij" ("myn", "bywerkingen"), "uu" for "ui" ("huus",
    "uut"), Limburg "veur" for "voor" ("veurgeschreve") and "sj" for "sch" ("versjil"), and
    whole words ("nie", "neet" for "niet", "gein", "gin" for "geen", "noeits" for
    "nooit"). Standard words change the
    same way on both sides, so they still match."""
    word = word.replace("’", "'")
    if "y" in word:
        word = word.replace("y", "ij")
    if "uu" in word:
        word = word.replace("uu", "ui")
    if word.startswith("veur"):
        word = "voor" + word[4:]
    if "sj" in word and not word.endswith(("sje", "sjes")):
        word = word.replace("sj", "sch")  # Limburg "versjil", not the diminutive "meisje"
    return _DIALECT_WORDS.get(word, word)


def tokenize(text: str, language: str = "") -> list[Token]:
    """Folded tokens; Dutch text also gets one :func:`spelling` for its dialect variants."""
    spell = spelling if language == "nl" else _plain
    return [Token(m.group(0), spell(fold(m.group(0))), m.start(), m.end())
            for m in _TOKEN.finditer(text)]


def _plain(word: str) -> str:
    return word.replace("’", "'")


#: Elided articles and prepositions written onto the next word (French, Italian).
_ELIDED = frozenset(("l", "d", "qu"))


def _match_all(tokens: list[Token], lexicon: Lexicon, *, fuzzy: bool = True) -> list[Hit]:
    hits: list[Hit] = []
    norms = [t.norm for t in tokens]
    count = len(norms)
    cache = lexicon.pair_cache
    for index, norm in enumerate(norms):
        following = norms[index + 1] if index + 1 < count else None
        starting = cache.get((norm, following, fuzzy))
        if starting is None:
            starting = _starting_at(lexicon, norm, following, fuzzy)
        if starting is _NOTHING_STARTS:
            continue  # (most tokens)
        split, gaps, suffixed, candidates = starting
        token = tokens[index]
        for term in split:
            hits.append(Hit(term.concept, index, index + 2, token.start, tokens[index + 1].end,
                            term.text))
        for term, second, gap in gaps:
            for end in range(index + 1, min(count, index + gap + 2)):
                if norms[end] == second:
                    hits.append(Hit(term.concept, index, end + 1, token.start,
                                    tokens[end].end, term.text))
                    break
        for term in suffixed:
            hits.append(Hit(term.concept, index, index + 1, token.start, token.end, term.text))
        for term in candidates:
            words = term.words
            end = index + len(words)
            if end > count:
                continue
            matched = True
            for k in range(2, len(words)):  # (the second word is matched by _candidates)
                # exact first: the common case, and most candidates fail on their 2nd word
                if norms[index + k] != words[k] and not _word_matches(
                        norms[index + k], words[k], term.prefix[k],
                        fuzzy and norms[index + k] not in lexicon.not_typos):
                    matched = False
                    break
            if matched:
                hits.append(Hit(term.concept, index, end, token.start, tokens[end - 1].end,
                                term.text))
    return hits


#: Pairs of (word, next word) whose surviving terms are remembered, per lexicon.
_PAIR_CACHE_SIZE = 200_000

#: What may start at a token: one-word terms written in two pieces with the next token,
#: gap terms (with their second word and gap), suffix terms the token ends in, and the
#: terms whose first two words the token and the next one may be (see ``_starting_at``).
_Starting = tuple[tuple[Term, ...], tuple[tuple[Term, str, int], ...], tuple[Term, ...],
                  tuple[Term, ...]]
_NOTHING_STARTS: _Starting = ((), (), (), ())


def _starting_at(lexicon: Lexicon, norm: str, following: str | None,
                 fuzzy: bool) -> _Starting:
    """Every term that may start at a token ``norm`` followed by ``following`` (None at the
    text's end), in the order :func:`_match_all` reports them. A text repeats its word
    pairs, and most pairs start nothing, so the answer is remembered per pair."""
    word = _word_starts(lexicon, norm, fuzzy)
    candidates = _candidates(lexicon, word, following, fuzzy) if word.heads else ()
    split = () if following is None else _split_word(lexicon, norm, following)
    if split or word.gaps or word.suffixed or candidates:
        starting = (split, word.gaps, word.suffixed, candidates)
    else:
        starting = _NOTHING_STARTS
    if len(lexicon.pair_cache) >= _PAIR_CACHE_SIZE:
        lexicon.pair_cache.clear()
    lexicon.pair_cache[(norm, following, fuzzy)] = starting
    return starting


@dataclass(frozen=True, slots=True)
class _WordStarts:
    """What may start at a token whatever follows it (see :func:`_word_starts`)."""

    #: for the word, and for the word after an elided article ("l'algologue"): the terms
    #: that start with it (or, fuzzy, with a near word) by their second word, and the prefix
    #: terms it begins with
    heads: tuple[tuple[_Followers, tuple[Term, ...]], ...]
    #: gap terms starting with the word, with their second word and gap
    gaps: tuple[tuple[Term, str, int], ...]
    #: suffix terms the word ends in
    suffixed: tuple[Term, ...]


def _word_starts(lexicon: Lexicon, norm: str, fuzzy: bool) -> _WordStarts:
    """What may start at a token ``norm``, whatever follows it. A word comes back with many
    next words (most pairs are new, most words are not), so this is remembered per word."""
    found = lexicon.word_cache.get((norm, fuzzy))
    if found is not None:
        return found
    heads = [_head(lexicon, norm, fuzzy)]
    head, apostrophe, rest = norm.partition("'")
    if apostrophe and head in _ELIDED and len(rest) > 1:
        # "l'algologue", "d'algologue", "qu'on m'avait dit": the word after an elided
        # article, preposition or conjunction
        heads.append(_head(lexicon, rest, fuzzy))
    found = _WordStarts(
        tuple([h for h in heads if h[0] is not _NO_FOLLOWERS or h[1]]),
        tuple(lexicon.gap_terms.get(norm, ())),
        tuple([term for term in lexicon.suffix_terms
               if norm.endswith(term.words[0]) and len(norm) > len(term.words[0])]))
    if len(lexicon.word_cache) >= _PAIR_CACHE_SIZE:
        lexicon.word_cache.clear()
    lexicon.word_cache[(norm, fuzzy)] = found
    return found


def _head(lexicon: Lexicon, word: str, fuzzy: bool) -> tuple[_Followers, tuple[Term, ...]]:
    """The terms whose first word is ``word`` (or, with ``fuzzy``, a near word) by their
    second word, and the prefix terms ``word`` begins with."""
    first = word
    if fuzzy and not lexicon.by_first.get(word):
        first = _fuzzy_first(lexicon.language, word) or word
    heads = lexicon.prefix_by_head.get(word[:3])
    prefixed = tuple(t for t in heads if word.startswith(t.words[0])) if heads else ()
    return _followers(lexicon, first), prefixed


def _candidates(lexicon: Lexicon, word: _WordStarts, following: str | None,
                fuzzy: bool) -> tuple[Term, ...]:
    """The terms that may start at a token (``word``: what may start there) followed by
    ``following``: those whose second word the next token is, or that have one word."""
    typo_ok = fuzzy and following not in lexicon.not_typos
    found: tuple[Term, ...] = ()
    for followers, prefixed in word.heads:
        found += followers.matching(following, typo_ok)
        if prefixed:
            found += tuple(t for t in prefixed if len(t.words) == 1 or (
                following is not None and _word_matches(following, t.words[1], t.prefix[1],
                                                        typo_ok)))
    return found


@dataclass(frozen=True)
class _Followers:
    """The terms whose first word is one word (in ``Lexicon.by_first`` order), by what their
    second word asks of the next token: a word like "niet" starts over a hundred terms, and
    most pairs of words are met once."""

    terms: tuple[Term, ...]
    #: places in ``terms`` of the one-word terms, which match whatever follows
    single: tuple[int, ...]
    #: second word -> places of the terms of two words or more
    exact: dict[str, tuple[int, ...]]
    #: places of those whose second word another token may match too: a prefix, or one
    #: long enough for a typo (see ``_word_matches``)
    loose: tuple[int, ...]

    #: the one-word terms themselves
    singles: tuple[Term, ...]

    def matching(self, following: str | None, typo_ok: bool) -> tuple[Term, ...]:
        """The terms the next token ``following`` (None: none) allows, in their order."""
        if following is None:
            return self.singles
        exact = self.exact.get(following, ())
        loose = [place for place in self.loose
                 if self.terms[place].words[1] != following and _word_matches(
                     following, self.terms[place].words[1], self.terms[place].prefix[1],
                     typo_ok)]
        if not exact and not loose:
            return self.singles
        return tuple([self.terms[place] for place in sorted((*self.single, *exact, *loose))])


_NO_FOLLOWERS = _Followers((), (), {}, (), ())


def _followers(lexicon: Lexicon, first: str) -> _Followers:
    found = lexicon.followers.get(first)
    if found is None:
        if first not in lexicon.by_first:
            return _NO_FOLLOWERS  # (remembered for the lexicon's words only)
        terms = tuple(lexicon.by_first.get(first, ()))
        exact: dict[str, list[int]] = defaultdict(list)
        for place, term in enumerate(terms):
            if len(term.words) > 1:
                exact[term.words[1]].append(place)
        single = tuple(place for place, term in enumerate(terms) if len(term.words) == 1)
        found = lexicon.followers[first] = _Followers(
            terms, single, {word: tuple(places) for word, places in exact.items()},
            tuple(place for place, term in enumerate(terms) if len(term.words) > 1 and (
                term.prefix[1] or len(term.words[1]) >= FUZZY_MIN_LEN)),
            tuple(terms[place] for place in single))
    return found


def _split_word(lexicon: Lexicon, first: str, second: str) -> tuple[Term, ...]:
    """A one-word term written in two pieces ("reuma toloog", dictated or typed on a
    phone): both pieces at least three letters, the second no word a term starts with, and
    their join exactly a term (no fuzzy match across the gap)."""
    if len(first) < 3 or len(second) < 3 or second in lexicon.by_first:
        return ()
    joined = lexicon.by_first.get(first + second)
    return tuple([term for term in joined if len(term.words) == 1]) if joined else ()


def _clauses(text: str, tokens: list[Token], terminators: frozenset[str]) -> tuple[
        list[Clause], list[tuple[int, int]]]:
    # (the abbreviation is looked for in the few characters before the full stop only: a
    # search from the text's start made long texts quadratic)
    breaks = [(m.start(), m.end()) for m in _SENTENCE_END.finditer(text)
              if not _ABBREVIATION.search(text, max(0, m.start() - 12), m.start())]
    for line_break in _LINE_BREAK.finditer(text):
        line_start = text.rfind("\n", 0, line_break.start()) + 1
        line = text[line_start:line_break.start()]
        # (a hanging indent under a numbered answer continues it too)
        indent = len(line_break.group(1))
        following = text[line_break.end() + indent:line_break.end() + indent + 1]
        next_word = text[line_break.end():line_break.end() + 40].split(None, 1)
        # a client wraps lines at 60-80 characters, where the next word no longer fits
        # (72 at the narrowest); a longer line ends a paragraph, and so does a short one
        # the next word would still have fitted on ("... door 's nachts" / "geen ...")
        # (a capital after an unfinished line is wrapped too: German nouns, names, "LDN")
        continues = following.islower() or (
            following.isupper() and not line.rstrip().endswith((".", "!", "?", ":", ";")))
        wrapped = _WRAP_WIDTH <= len(line) <= _WRAP_MAX and continues and (
            len(line) + 1 + len(next_word[0] if next_word else "") > _WRAP_NARROWEST
            # a line ending in a comma is unfinished, whatever its width
            or (line.rstrip().endswith(",") and following.islower()))
        if not wrapped:
            breaks.append((line_break.start(), line_break.end()))
    sentences: list[tuple[int, int]] = []
    position = 0
    for b_start, b_end in sorted(breaks):
        if b_start < position:
            continue
        if b_start > position:
            sentences.append((position, b_start))
        position = b_end
    if position < len(text):
        sentences.append((position, len(text)))
    clauses: list[Clause] = []
    token_index = 0
    starts = [t.start for t in tokens]
    for number, (s_start, s_end) in enumerate(sentences):
        piece = text[s_start:s_end]
        is_question = piece.rstrip().endswith("?")
        asides = [(m.start(), m.end()) for m in _SHORT_ASIDE.finditer(piece)]
        bounds = [s_start] + [s_start + m.start() for m in _CLAUSE_PUNCT.finditer(piece)
                              if not any(a <= m.start() < b for a, b in asides)] + [s_end]
        # conjunctions that end a negation's scope also start a new clause
        # tokens are in text order: bisect, not a scan per sentence (quadratic on long texts)
        sentence_tokens = range(bisect_left(starts, s_start), bisect_left(starts, s_end))
        for i in sentence_tokens:
            if tokens[i].norm in terminators and tokens[i].start > s_start:
                bounds.append(tokens[i].start)
        bounds = sorted(set(bounds))
        for c_start, c_end in pairwise(bounds):
            first = token_index
            while token_index < len(tokens) and tokens[token_index].start < c_end:
                token_index += 1
            if token_index > first:
                clauses.append(Clause(c_start, c_end, first, token_index, number,
                                      is_question=is_question))
    return clauses, sentences


def _terminators(lexicon: Lexicon) -> frozenset[str]:
    """The words of ``lexicon`` that end a negation's scope and start a clause (one-word
    entries only), spelled as the text's tokens are: made once per lexicon."""
    if lexicon.terminators is None:
        spell = spelling if lexicon.language == "nl" else _plain
        lexicon.terminators = frozenset(spell(fold(w))
                                        for w in lexicon.words("negation", "terminators")
                                        if " " not in w)
    return lexicon.terminators


def build_doc(text: str, language: str) -> Doc:
    """Tokens, clauses and lexicon hits of ``text``.

    The lexicon of ``language`` is used, plus English (widely mixed in); an uncovered
    language gets the lexicons of the codebook's four.
    """
    available = available_languages()
    if language in available:
        languages = [language] + (["en"] if language != "en" and "en" in available else [])
    else:
        languages = [lang for lang in available if lang in _CODEBOOK_LANGUAGES]
    lexicons = [load_lexicon(lang) for lang in languages]
    tokens = tokenize(text, language)
    terminators = frozenset().union(*(
        _terminators(lexicon) for lexicon in (lexicons[:1] if language in available
                                              else lexicons)))
    clauses, sentences = _clauses(text, tokens, terminators)
    hits: list[Hit] = []
    for position, lexicon in enumerate(lexicons):
        # typos are forgiven in the message's own language only: English "stopped" is no
        # misspelt Dutch "stoppen"
        hits.extend(_match_all(tokens, lexicon, fuzzy=position == 0))
    if language in available:
        for other in sorted(_CODEBOOK_LANGUAGES - set(languages)):
            if other in available:
                hits.extend(_match_all(tokens, borrowed_doctors(other, language), fuzzy=False))
    # a phrase does not run over a sentence's end ("... voor. Mijn vrouw" is no "voor mijn
    # vrouw")
    # and a gap term ("zo ~3 dat") stays inside one clause: "dat is zo gebleven, maar dat"
    sentence_of = [-1] * len(tokens)
    clause_of = [-1] * len(tokens)
    for index, clause in enumerate(clauses):
        sentence_of[clause.first:clause.last] = [clause.sentence] * (clause.last - clause.first)
        clause_of[clause.first:clause.last] = [index] * (clause.last - clause.first)
    hits = [h for h in hits if h.last - h.first < 2
            or (sentence_of[h.first] == sentence_of[h.last - 1]
                and ("~" not in h.term or clause_of[h.first] == clause_of[h.last - 1]))]
    hits = _prefer_longest(hits) + _score_changes(tokens)
    hits.sort(key=lambda h: (h.first, -h.last))
    return Doc(text, language, tokens, clauses, hits, sentences, lexicons)


_FROM = frozenset(("van", "from", "de", "von", "d"))
_TO = frozenset(("naar", "to", "a", "auf", "tot", "op"))


def _number(token: Token) -> float | None:
    try:
        return float(token.norm.replace(",", "."))
    except ValueError:
        return None


_ARTICLE = frozenset(("een", "a", "un", "une", "ein", "eine"))
_SCALE = frozenset(("op", "sur", "of", "/", "von"))


def _score_at(tokens: list[Token], index: int) -> tuple[float, int] | None:
    """A score of at most 10 at ``index`` ("8", "een 8", "8 op 10", "a 7 out of 10"):
    its value and the index after it."""
    if index < len(tokens) and tokens[index].norm in _ARTICLE:
        index += 1
    if index >= len(tokens):
        return None
    value = _number(tokens[index])
    if value is None or value > 10:
        return None
    index += 1
    if index < len(tokens) and tokens[index].norm == "out":
        index += 1
    if index + 1 < len(tokens) and tokens[index].norm in _SCALE \
            and tokens[index + 1].norm == "10":
        index += 2
    return value, index


def _score_changes(tokens: list[Token]) -> list[Hit]:
    """A score that went down or up: "pijn van 8 naar 4 op 10", "van een 8 op 10 naar een
    5", "pain from 7 to 3", "douleurs de 8 à 5": a direction word ("less" or "more") over
    the two numbers."""
    out: list[Hit] = []
    for index in range(len(tokens) - 3):
        if tokens[index].norm not in _FROM:
            continue
        first = _score_at(tokens, index + 1)
        if first is None or first[1] >= len(tokens) or tokens[first[1]].norm not in _TO:
            continue
        second = _score_at(tokens, first[1] + 1)
        if second is None or first[0] == second[0]:
            continue
        end = second[1]
        unit = tokens[end].norm if end < len(tokens) else ""
        if unit in ("mg", "milligram", "capsules", "weken", "weeks", "maanden", "months"):
            continue  # a dose or a time going up, not a score
        key = "less" if second[0] < first[0] else "more"
        out.append(Hit(f"direction.{key}", index, end, tokens[index].start,
                       tokens[end - 1].end, f"{first[0]:g}->{second[0]:g}"))
    return out


def _prefer_longest(hits: list[Hit]) -> list[Hit]:
    """Within one section, a hit inside a longer hit of the same section is dropped
    ("onrustig slapen" is sleep disturbance, not also restlessness)."""
    by_section: dict[str, list[Hit]] = defaultdict(list)
    for hit in hits:
        by_section[hit.section].append(hit)
    kept: list[Hit] = []
    for section_hits in by_section.values():
        if len(section_hits) == 1:
            kept.extend(section_hits)  # (most sections of a text: nothing to compare)
            continue
        if all(hit.last - hit.first == 1 for hit in section_hits):
            # one word each: a hit is only held by the same concept on the same word
            section_hits.sort(key=attrgetter("first"))
            taken: set[tuple[int, str]] = set()
            for hit in section_hits:
                if (hit.first, hit.concept) not in taken:
                    taken.add((hit.first, hit.concept))
                    kept.append(hit)
            continue
        section_hits.sort(key=lambda h: (-(h.last - h.first), h.first))
        # taken hits by first token: a containing hit starts at most `widest` tokens earlier
        # (a scan of every taken hit was quadratic on long texts)
        by_first: dict[int, list[Hit]] = defaultdict(list)
        widest = 0
        for hit in section_hits:
            if not _covered(hit, [h for start in range(hit.first - widest, hit.first + 1)
                                  for h in by_first.get(start, ())]):
                kept.append(hit)
                by_first[hit.first].append(hit)
                widest = max(widest, hit.last - hit.first)
    kept.sort(key=lambda h: (h.first, -(h.last - h.first)))
    return kept


def _covered(hit: Hit, near: list[Hit]) -> bool:
    """Whether one of the hits ``near`` (starting at or before ``hit``, none shorter) holds
    ``hit`` and is longer, or is the same concept over the same tokens."""
    length = hit.last - hit.first
    return any(hit.last <= h.last and (
        h.last - h.first > length
        or (h.first == hit.first and h.last == hit.last and h.concept == hit.concept))
        for h in near)


#: A one-word post-trigger looks back only this far: "werd er zo moe van dat ik bijna niet"
#: is not a negated fatigue; "niet gemerkt", "niet gehad" reach as far as pre-triggers.
POST_WINDOW = 3


def negated(doc: Doc, hit: Hit, *, window: int = 6, pre: bool = True) -> bool:
    """ConText-style: is ``hit`` inside the scope of a negation trigger in its clause?

    Pre-triggers negate up to ``window`` tokens after them, post-triggers up to ``window``
    tokens before; pseudo-triggers ("geen verschil", "niet meer") negate nothing, and a
    terminator ("maar", "wel", "but") ends the scope (clauses are already cut there).
    """
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    pseudo_tokens: set[int] = set()
    for pseudo in doc.hits_in(clause.first, clause.last, "negation", "pseudo"):
        if pseudo.first <= hit.first < pseudo.last and pseudo.concept == hit.concept:
            continue
        pseudo_tokens.update(range(pseudo.first, pseudo.last))
    if pre and "~" in hit.term and hit.last - hit.first > 2 and hit.key == "positive":
        # a negation word inside a gap term of praise: "experience is not good", "ervaring
        # is niet goed" (not in one that is itself a negation: "no ~3 diferencia"; others,
        # "kon ~3 aan", hold their negation in their meaning)
        single = {w for w in doc.words("negation", "pre") if " " not in w}
        inner = {t.norm for t in doc.tokens[hit.first + 1:hit.last - 1]}
        if doc.tokens[hit.first].norm not in single and inner & single:
            return True
    for trigger in doc.hits_in(clause.first, clause.last, "negation", "pre") if pre else ():
        if trigger.first in pseudo_tokens or trigger.first >= hit.first:
            continue
        if hit.first - trigger.last <= window:
            return True
    # "zo onrustig dat ik niet stil kon zitten": the negation is the consequence's
    consequences = [c for c in doc.hits_in(clause.first, clause.last, "experience", "severe")
                    if "~" in c.term and c.first <= hit.first and hit.last < c.last]
    for trigger in doc.hits_in(clause.first, clause.last, "negation", "post"):
        if trigger.first in pseudo_tokens or trigger.first < hit.last \
                or any(c.last <= trigger.first for c in consequences) \
                or _negates_what_follows(doc, trigger):
            continue
        reach = window if trigger.last - trigger.first > 1 else min(window, POST_WINDOW)
        if trigger.first - hit.last <= reach:
            return True
    return False


def _negates_what_follows(doc: Doc, trigger: Hit) -> bool:
    """A negation word right before a symptom or side effect it negates ("minder pijn geen
    bijwerkingen"): it says nothing of the words before it."""
    clause = doc.clause_of(trigger.first)
    return clause is not None and any(
        h.first == trigger.last for section in ("side_effect", "symptom")
        for h in doc.hits_in(trigger.last, clause.last, section))


def in_context(doc: Doc, hit: Hit, key: str, *, scope: str = "sentence") -> Hit | None:
    """A ``context.<key>`` hit in the same sentence (or clause) as ``hit``, if any."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return None
    if scope == "clause":
        first, last = clause.first, clause.last
    else:
        first, last = doc.sentence_range(clause.sentence)
    found = doc.hits_in(first, last, "context", key)
    return found[0] if found else None
