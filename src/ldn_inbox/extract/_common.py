"""Helpers the question modules share: which hits count, evidence spans, answer words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ldn_inbox.codebook import Span
from ldn_inbox.extract._text import Clause, Doc, Hit, in_context, negated
from ldn_inbox.extract.segment import Segments


@dataclass(frozen=True)
class Reading:
    """What a question module concluded, with the hits that decided it."""

    value: Any
    confidence: float
    hits: tuple[Hit, ...] = ()
    #: the text contradicts itself on this question: a person looks, whatever the fit says
    contradicted: bool = False


def span(doc: Doc, hit: Hit) -> Span:
    return Span(hit.start, hit.end, doc.text[hit.start:hit.end])


def sentence_span(doc: Doc, hit: Hit) -> Span:
    """The clause around ``hit``: a reviewer reads words in context."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return span(doc, hit)
    text = doc.text[clause.start:clause.end].strip(" ,;:\n")
    offset = doc.text.find(text, clause.start)
    return Span(offset, offset + len(text), text)


def segment_of(segs: Segments, hit: Hit) -> int:
    return segs.question_of(hit.start)


def _persons(doc: Doc, first: int, last: int) -> list[Hit]:
    """Other people named in tokens [first, last), but for one who only passed something on
    ("via een vriendin", "through a friend"): the sentence does not tell of them."""
    return [h for h in doc.hits_in(first, last, "context", "other_person")
            if not (h.first > 0 and doc.tokens[h.first - 1].norm in _CHANNELS)]


#: Words before a person who only passed something on.
_CHANNELS = frozenset(("via", "dankzij", "through", "thanks", "par", "grace", "über", "uber",
                       "durch", "tramite", "grazie", "gracias"))


def _other_person(doc: Doc, hit: Hit, scope: str) -> bool:
    """Someone else named; a relative too (the writer writing for themselves), when the
    clause, or the sentence telling of the relative's use, does not name the writer ("mijn
    vrouw neemt het ook, van haar huisarts"; not "volgens mijn man ben ik beter gezind")."""
    clause = doc.clause_of(hit.first)
    if clause is None:
        return False
    if scope == "clause":
        if _persons(doc, clause.first, clause.last):
            return True
    elif _persons(doc, doc.sentence_range(clause.sentence)[0], hit.first):
        # the person named earlier in the sentence ("mijn zus nam het, en had ..."), not in
        # an aside after it ("vivid dreams (one involving my mother-in-law)")
        return True
    if in_context(doc, hit, "relation", scope=scope) is None:
        return False
    first, last = (clause.first, clause.last) if scope == "clause" else \
        doc.sentence_range(clause.sentence)
    if doc.hits_in(first, last, "subject", "self"):
        return False
    return scope == "clause" or bool(doc.hits_in(first, last, "use"))


def usable(doc: Doc, hit: Hit, *, proxy: bool) -> bool:
    """A hit that speaks of the writer's (or the patient's) own LDN use.

    Hits in questions ("Moet ik naar een specialist?"), about other people (unless the writer
    answers for the patient) or fears are not.
    """
    clause = doc.clause_of(hit.first)
    if clause is None or clause.is_question:
        return False
    if not proxy and _other_person(doc, hit, "clause"):
        return False
    if not proxy and _other_person(doc, hit, "sentence") \
            and not doc.hits_in(clause.first, clause.last, "subject", "self"):
        return False  # "mijn zus nam het, en had nachtmerries": still the sister
    if _addressed(doc, hit, clause.first, clause.last):
        return False
    # a fear word inside the hit's own words ("je me demande si je vais continuer") is its
    # own; one far after it in a long unpunctuated clause ("je fait des cauchemars toute les
    # nuits et ca me pese vraiment je sais pas si je vais continuer") is of something else
    return not any(
        not (hit.first <= fear.first and fear.last <= hit.last)
        and fear.first - hit.last <= _FEAR_REACH
        for fear in doc.hits_in(clause.first, clause.last, "context", "fear"))


#: How far after a hit a fear word in its clause still bears on it ("nachtmerries, daar was
#: ik bang voor").
_FEAR_REACH = 6


def _addressed(doc: Doc, hit: Hit, first: int, last: int) -> bool:
    """Said of the reader, right at the hit ("blij dat het u helpt", "que cela vous aide"),
    not of the writer ("anders dan bij u heeft mijn huisarts het voorgeschreven"); or praise
    of what the reader does ("je trouve très bien que vous fassiez cette enquête")."""
    following = [t.norm for t in doc.tokens[hit.last:hit.last + 2]]
    if len(following) == 2 and following[0] in _THAT and following[1] in _YOU:
        return True
    return any(a.first - 2 <= hit.last and hit.first <= a.last + 1
               for a in doc.hits_in(first, last, "context", "addressee"))


_THAT = frozenset(("dat", "que", "qu", "that", "dass", "che"))
_YOU = frozenset(("u", "jullie", "gij", "ge", "vous", "you", "sie", "ihr", "voi", "lei",
                  "usted", "ustedes"))


def on_topic(doc: Doc, hit: Hit, segs: Segments | None) -> bool:
    """In a story of several paragraphs, whether ``hit`` stands in one about LDN (not one
    about another treatment or the illness's history); answers laid out per question are on
    topic by their place, and a story around them is read as a story."""
    if segs is not None and segs.layout != "narrative" and segs.question_of(hit.start):
        return True
    return doc.topic_at(hit.start) in ("drug", "any")


def answer_word(doc: Doc, segs: Segments, question: int) -> str | None:
    """``yes`` / ``no`` when the answer to ``question`` starts with one."""
    if not segs.has(question):
        return None
    starts = [s for s, e in segs.spans[question] if doc.text[s:e].strip()]
    if not starts:
        return None
    start = starts[0]
    first_token = next((i for i, t in enumerate(doc.tokens) if t.start >= start), None)
    if first_token is None:
        return None
    for hit in doc.hits:
        if hit.section == "answer" and hit.first == first_token:
            return hit.key
    return None


def first_hit_of_answer(doc: Doc, segs: Segments, question: int) -> Hit | None:
    if not segs.has(question):
        return None
    # the first span that holds anything: a question quoted twice (two languages, a reminder)
    # may be answered under its second copy only
    start = next((s for s, e in segs.spans[question] if doc.text[s:e].strip()),
                 segs.spans[question][0][0])
    for hit in doc.hits:
        if hit.section == "answer" and hit.start >= start:
            first_token = next((i for i, t in enumerate(doc.tokens) if t.start >= start), None)
            return hit if hit.first == first_token else None
    return None


def is_negated(doc: Doc, hit: Hit) -> bool:
    return negated(doc, hit)


def topic_clause(clause: Clause) -> bool:
    """A clause that only names a topic, for what follows to answer: the writer's own short
    question ("Bijwerkingen?") or the topic put first ("Des effets secondaires, je n'en ai
    jamais eu")."""
    return clause.last - clause.first <= (4 if clause.is_question else 3)
