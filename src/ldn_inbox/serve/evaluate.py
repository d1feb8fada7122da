"""Scoring coded records against a gold file (``ldn-inbox eval``).

Pure: records and gold rows in, scores out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ldn_inbox.codebook import CODED_FIELDS, LIST_FIELDS, MAIN_FIELDS
from ldn_inbox.errors import SourceError
from ldn_inbox.serve.reliability import Observation, Reliability, format_tables, tabulate

SCALAR_FIELDS = tuple(f for f in CODED_FIELDS if f not in LIST_FIELDS)


def load_gold(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError as exc:
        raise SourceError(f"cannot read gold file {path}: {exc.strerror}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise SourceError(f"{path}:{number}: not JSON: {exc}") from None
    return rows


def equal(field_name: str, a: Any, b: Any) -> bool:
    """Whether a coded value equals the gold one (doses to a micro-gram, lists as sets)."""
    if field_name == "dose_mg":
        if a is None or b is None:
            return a is None and b is None
        return abs(float(a) - float(b)) < 1e-6
    if isinstance(a, list) and isinstance(b, list):
        return sorted(a) == sorted(b)
    return bool(a == b)


@dataclass
class Scores:
    n: int = 0
    matched: int = 0
    accuracy: dict[str, float] = field(default_factory=dict)
    f1: dict[str, dict[str, float]] = field(default_factory=dict)
    main_macro: float = 0.0
    unflagged_precision: float = 0.0
    unflagged_coverage: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    #: per field: confidence bins (count, right) and the review flag's record
    reliability: dict[str, Reliability] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n, "matched": self.matched, "accuracy": self.accuracy, "f1": self.f1,
            "main_macro": self.main_macro, "unflagged_precision": self.unflagged_precision,
            "unflagged_coverage": self.unflagged_coverage, "errors": self.errors,
            "missing": self.missing,
            "reliability": {k: v.as_dict() for k, v in self.reliability.items()},
        }


def score(records: dict[str, dict[str, Any]], gold: list[dict[str, Any]],
          by_file: dict[str, dict[str, Any]] | None = None) -> Scores:
    """Compare ``records`` (message_id -> record with review_fields) with ``gold`` rows.

    A gold row is matched by message_id, else by its ``file`` name in ``by_file``.
    """
    scores = Scores(n=len(gold))
    correct: dict[str, int] = dict.fromkeys(SCALAR_FIELDS, 0)
    totals: dict[str, int] = dict.fromkeys(SCALAR_FIELDS, 0)
    counts: dict[str, list[int]] = {f: [0, 0, 0] for f in LIST_FIELDS}  # tp, fp, fn
    unflagged_total = unflagged_right = main_total = 0
    observed: list[Observation] = []
    for row in gold:
        record = records.get(row.get("message_id") or "")
        if record is None and by_file is not None:
            record = by_file.get(row.get("file") or "")
        if record is None:
            scores.missing.append(row.get("file") or row.get("message_id") or "?")
            continue
        scores.matched += 1
        review = set(record.get("review_fields") or [])
        confidence = record.get("confidence") or {}
        for name in SCALAR_FIELDS:
            if name not in row:
                continue
            if name not in ("kind", "language") and row.get("kind") != "reply":
                continue
            totals[name] += 1
            ok = equal(name, record.get(name), row.get(name))
            correct[name] += ok
            if name != "language":
                observed.append(Observation(name, confidence.get(name), ok, name in review))
            if not ok:
                scores.errors.append({"file": row.get("file"), "field": name,
                                      "gold": row.get(name), "got": record.get(name)})
            if name in MAIN_FIELDS:
                main_total += 1
                if name not in review:
                    unflagged_total += 1
                    unflagged_right += ok
        if row.get("kind") != "reply":
            continue
        for name in LIST_FIELDS:
            want = set(row.get(name) or [])
            got = set(record.get(name) or [])
            counts[name][0] += len(want & got)
            counts[name][1] += len(got - want)
            counts[name][2] += len(want - got)
            if want != got:
                scores.errors.append({"file": row.get("file"), "field": name,
                                      "gold": sorted(want), "got": sorted(got)})
            observed.append(Observation(name, confidence.get(name), want == got,
                                        name in review))
    scores.accuracy = {k: round(correct[k] / totals[k], 4) for k in SCALAR_FIELDS if totals[k]}
    for name, (tp, fp, fn) in counts.items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        harmonic = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores.f1[name] = {"precision": round(precision, 4), "recall": round(recall, 4),
                           "f1": round(harmonic, 4)}
    mains = [scores.accuracy[f] for f in MAIN_FIELDS if f in scores.accuracy]
    scores.main_macro = round(sum(mains) / len(mains), 4) if mains else 0.0
    scores.unflagged_precision = round(unflagged_right / unflagged_total, 4) \
        if unflagged_total else 0.0
    scores.unflagged_coverage = round(unflagged_total / main_total, 4) if main_total else 0.0
    order = {name: index for index, name in enumerate(CODED_FIELDS)}
    scores.reliability = dict(sorted(tabulate(observed).items(),
                                     key=lambda item: order.get(item[0], 99)))
    return scores


def format_scores(scores: Scores) -> str:
    lines = [f"messages: {scores.n} in gold, {scores.matched} matched"]
    for name, value in scores.accuracy.items():
        lines.append(f"  {name:<22} accuracy {value:.3f}")
    for name, f1 in scores.f1.items():
        lines.append(f"  {name:<22} micro F1 {f1['f1']:.3f} "
                     f"(P {f1['precision']:.3f}, R {f1['recall']:.3f})")
    lines.append(f"  not flagged for review: {scores.unflagged_coverage:.1%} of main fields, "
                 f"{scores.unflagged_precision:.1%} right")
    lines.append(f"main macro accuracy: {scores.main_macro:.3f}")
    if scores.reliability:
        lines += ["", "reliability per field (right/count per confidence bin) and the review "
                  "flag:", *format_tables(scores.reliability)]
    return "\n".join(lines)
