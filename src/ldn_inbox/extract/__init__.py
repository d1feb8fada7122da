"""Coding the writer's own words into the codebook's answer fields.

Pure functions only: text in, :class:`Extraction` out; no database, network, clock or files
(lexicons are package data, loaded once). One module per question (``use``,
``prescriber``, ``experience``, ``side_effects``, ``dose``), on top of ``segment`` (which
answer belongs to which question) and ``_text`` (tokens, clauses, fuzzy lexicon matching,
negation scope).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ldn_inbox.codebook import FieldResult, Span, Value

EXTRACTOR_VERSION = "0.1.0"


@dataclass
class Extraction:
    """The answer fields of one reply with evidence, confidence and review flags."""

    fields: dict[str, FieldResult] = field(default_factory=dict)
    #: whether at least one question was answered (a reply, not not_survey)
    answered: bool = False
    #: a fact (a side effect, a benefit, a prescriber) with nothing naming the drug: an answer
    #: only in a message otherwise tied to the survey
    answered_weakly: bool = False
    #: the writer says they add to or correct earlier answers ("je corrige ma réponse")
    amends: bool = False
    review_fields: list[str] = field(default_factory=list)
    #: fields a person must look at whatever their fitted probability (the text contradicts
    #: itself on them)
    contradicted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: how the own text was read (``narrative``, ``anchors``, ``numbered``...) and which
    #: questions had an answer there: part of each field's calibration signature
    layout: str = "narrative"
    answered_questions: frozenset[int] = frozenset()

    def value(self, name: str) -> Value:
        result = self.fields.get(name)
        return None if result is None else result.value

    def set(self, name: str, value: Value, confidence: float,
            evidence: list[Span] | None = None) -> None:
        self.fields[name] = FieldResult(value, round(confidence, 3), evidence or [])


def extract(own_text: str, language: str, *,
            order: tuple[int, ...] = (1, 2, 3, 4),
            labels: dict[str, int] | None = None) -> Extraction:
    """Code ``own_text`` (the output of reply isolation) into the answer fields.

    ``order``: the codebook's questions in the order the quoted mailing asks them (its third
    question may be the codebook's fourth): a writer's "3." or "c)" answers the third;
    ``labels``: its own labels ("5." asking the codebook's first question)."""
    from ldn_inbox.extract.engine import run

    return run(own_text, language, order=order, labels=labels)
