"""Confidences fitted to data, and the review flag that follows from them.

The extractor's own confidence for a field is a constant of the rule that decided it (an
explicit answer under its question, a hint in a story, conflicting statements...). Those
constants are not probabilities. This module turns them into one: how often a field coded
*that way* was right in labelled messages the rules were not written for (the measured-only
sets of ``fixtures/measure``; see ``scripts/calibrate.py``).

"That way" is a signature, from specific to general: the field, its value, the rule's
constant, whether the answer was laid out per question, and whether that question's answer was
there. Each level is a histogram bin; a bin with few messages leans on the level above it
(additive smoothing towards the parent), so a rare signature gets the estimate of its kind.

A field is flagged for review when its fitted probability is below its field's threshold,
chosen on the same data so that unflagged fields are right at least :data:`TARGET` of the time.
Pure: the fitted counts are package data (``data/calibration.json``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ldn_inbox.codebook import LIST_FIELDS, MAIN_FIELDS

#: Share of unflagged fields that must be right in the fitting data (each scored as if
#: unseen): the main fields, the kind (a wrong kind loses the whole record), the others.
TARGET = {"main": 0.97, "kind": 0.99, "other": 0.97}
#: Weight (in messages) of the parent bin's estimate in a child bin.
SMOOTHING = 4.0
#: Estimate for a field never seen in the fitting data.
PRIOR = 0.8

#: The question each field answers: whether that answer was there is part of the signature.
QUESTION_OF = {"ldn_use": 1, "dose_mg": 1, "prescriber": 2, "prescriber_specialty": 2,
               "experience": 3, "benefits": 3, "side_effects": 4, "side_effect_codes": 4}


@dataclass(frozen=True)
class Context:
    """What the signature needs beyond the field itself.

    :ivar layout: how the own text was read: ``narrative`` or one of the segmented layouts.
    :ivar answered: the questions whose answer had words in the own text.
    :ivar words: how many words the own text has.
    """

    layout: str = "narrative"
    answered: frozenset[int] = frozenset()
    #: words of the own text: a long story is read less surely than a list
    words: int = 0


def _value_key(field: str, value: Any) -> str:
    if field in LIST_FIELDS:
        return "none" if value is None else ("empty" if not value else "some")
    if field == "dose_mg":
        return "none" if value is None else "number"
    return str(value)


def signature(field: str, value: Any, raw: float, context: Context) -> list[str]:
    """The bins of one coded field, from the most general to the most specific."""
    laid_out = "story" if context.layout == "narrative" else "list"
    question = QUESTION_OF.get(field)
    answered = "-" if question is None else ("a" if question in context.answered else "n")
    value_key = _value_key(field, value)
    length = "short" if context.words < 40 else ("medium" if context.words < 120 else "long")
    return [field,
            f"{field}|{value_key}",
            f"{field}|{value_key}|{raw:.2f}",
            f"{field}|{value_key}|{raw:.2f}|{laid_out}|{answered}",
            f"{field}|{value_key}|{raw:.2f}|{laid_out}|{answered}|{length}"]


@dataclass
class Fitted:
    """Bin counts (messages, of which right) and the review threshold of each field."""

    counts: dict[str, tuple[int, int]]
    thresholds: dict[str, float]

    def probability(self, bins: Sequence[str], leave_out: bool | None = None) -> float:
        """The smoothed estimate for ``bins``; ``leave_out``: the estimate without one
        fitting sample of that outcome (its own), as a message not seen in fitting gets."""
        estimate = PRIOR
        for key in bins:
            n, right = self.counts.get(key, (0, 0))
            if leave_out is not None and n:
                n, right = n - 1, right - int(leave_out)
            estimate = (right + SMOOTHING * estimate) / (n + SMOOTHING)
        return estimate

    def as_dict(self) -> dict[str, Any]:
        return {"about": "Fitted by scripts/calibrate.py; see ldn_inbox/calibration.py.",
                "smoothing": SMOOTHING, "prior": PRIOR, "target": TARGET,
                "thresholds": dict(sorted(self.thresholds.items())),
                "counts": {k: list(v) for k, v in sorted(self.counts.items())}}


@dataclass(frozen=True)
class Sample:
    """One coded field of a labelled message, for fitting: its bins and whether it was right."""

    field: str
    bins: tuple[str, ...]
    right: bool


def fit(samples: Iterable[Sample]) -> Fitted:
    """Bin counts from ``samples``, and per field the lowest threshold that keeps the
    unflagged fields right at least :data:`TARGET` of the time, each sample scored without
    its own count (leave one out)."""
    samples = list(samples)
    counts: dict[str, list[int]] = {}
    for sample in samples:
        for key in sample.bins:
            bucket = counts.setdefault(key, [0, 0])
            bucket[0] += 1
            bucket[1] += sample.right
    fitted = Fitted({k: (v[0], v[1]) for k, v in counts.items()}, {})
    by_field: dict[str, list[tuple[float, bool]]] = {}
    for sample in samples:
        # each sample scored as if unseen: a bin of one is no evidence for itself
        by_field.setdefault(sample.field, []).append(
            (fitted.probability(sample.bins, leave_out=sample.right), sample.right))
    # one threshold for the main fields together (their probabilities are comparable once
    # fitted: a sure field of one kind need not wait for a doubtful field of another), one
    # per other field
    main = [s for field, scored in by_field.items() if field in MAIN_FIELDS for s in scored]
    shared = choose_threshold(main, TARGET["main"])
    for field, scored in by_field.items():
        fitted.thresholds[field] = shared if field in MAIN_FIELDS else choose_threshold(
            scored, TARGET.get(field, TARGET["other"]))
    return fitted


def choose_threshold(scored: Sequence[tuple[float, bool]], target: float) -> float:
    """The lowest probability threshold at which the fields at or above it are right at least
    ``target`` of the time (1.01: flag everything, when none is)."""
    best = 1.01
    for candidate in sorted({p for p, _ in scored}, reverse=True):
        kept = [right for p, right in scored if p >= candidate]
        if kept and sum(kept) / len(kept) >= target:
            best = candidate
    return best


@lru_cache(maxsize=1)
def shipped() -> Fitted | None:
    """The fitted calibration shipped with the package (None before the first fit)."""
    path = resources.files("ldn_inbox").joinpath("data/calibration.json")
    if not path.is_file():
        return None
    data = json.loads(path.read_text("utf-8"))
    return Fitted({k: (int(v[0]), int(v[1])) for k, v in data["counts"].items()},
                  {k: float(v) for k, v in data["thresholds"].items()})


def calibrated(values: Mapping[str, Any], raw: Mapping[str, float], context: Context,
               fitted: Fitted | None = None) -> tuple[dict[str, float], list[str]]:
    """Fitted probabilities of the fields in ``raw`` and the fields to flag for review.

    Without a fitted calibration the raw confidences stay and nothing is flagged here."""
    fitted = fitted if fitted is not None else shipped()
    if fitted is None:
        return dict(raw), []
    out: dict[str, float] = {}
    flagged: list[str] = []
    for field, confidence in raw.items():
        if field not in QUESTION_OF and field != "kind":
            out[field] = confidence
            continue
        p = fitted.probability(signature(field, values.get(field), confidence, context))
        out[field] = round(p, 3)
        if p < fitted.thresholds.get(field, 1.01):
            flagged.append(field)
    return out, flagged
