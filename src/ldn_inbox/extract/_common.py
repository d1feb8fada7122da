"""Helpers the question modules share: which hits count, evidence spans, answer words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ldn_inbox.codebook import Span
from ldn_inbox.extract._text import Doc, Hit, in_context, negated
from ldn_inbox.extract.segment import Segments


@dataclass(frozen=True)
class Reading:
    """What a question module concluded, with the hits that decided it."""

    value: Any
    confidence: float
    hits: tuple[Hit, ...] = ()


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


def usable(doc: Doc, hit: Hit, *, proxy: bool) -> bool:
    """A hit that speaks of the writer's (or the patient's) own LDN use.

    Hits in questions ("Moet ik naar een specialist?"), about other people (unless the writer
    answers for the patient) or fears are not.
    """
    clause = doc.clause_of(hit.first)
    if clause is None or clause.is_question:
        return False
    if not proxy and in_context(doc, hit, "other_person", scope="clause") is not None:
        return False
    if not proxy and in_context(doc, hit, "other_person") is not None \
            and not doc.hits_in(clause.first, clause.last, "subject", "self"):
        return False  # "mijn zus nam het, en had nachtmerries": still the sister
    return in_context(doc, hit, "fear", scope="clause") is None


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
    start = next(s for s, e in segs.spans[question])
    for hit in doc.hits:
        if hit.section == "answer" and hit.start >= start:
            first_token = next((i for i, t in enumerate(doc.tokens) if t.start >= start), None)
            return hit if hit.first == first_token else None
    return None


def is_negated(doc: Doc, hit: Hit) -> bool:
    return negated(doc, hit)
