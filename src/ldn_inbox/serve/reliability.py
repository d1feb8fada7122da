"""How far each coded field can be trusted: reliability tables and the review flag's record.

A reliability table puts a field's coded values in bins of their confidence and shows, per
bin, how many there were and how many were right; beside it, what the review flag did: how
many fields it left unflagged and how many of those were right, and how many of the wrong
ones it caught. ``ldn-inbox eval`` fills it from a gold file, ``ldn-inbox report`` and
``stats`` from the records a volunteer reviewed (a field left as coded counts as right, a
corrected one as wrong).

Pure: observations in, tables out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Upper edges of the confidence bins (the first bin starts at 0).
EDGES: tuple[float, ...] = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0)


@dataclass(frozen=True)
class Observation:
    """One coded field of one message: its confidence, whether it was right, whether the
    review flag was on."""

    field: str
    confidence: float | None
    right: bool
    flagged: bool


@dataclass
class Reliability:
    """One field's table: per bin (upper edge) the fields counted and how many were right,
    and the review flag's record."""

    bins: dict[float, list[int]] = field(default_factory=lambda: {e: [0, 0] for e in EDGES})
    unflagged: int = 0
    unflagged_right: int = 0
    flagged: int = 0
    flagged_wrong: int = 0

    @property
    def total(self) -> int:
        return self.unflagged + self.flagged

    @property
    def wrong(self) -> int:
        return (self.unflagged - self.unflagged_right) + self.flagged_wrong

    def add(self, observation: Observation) -> None:
        confidence = 0.0 if observation.confidence is None else observation.confidence
        edge = next(e for e in EDGES if confidence <= e or e == EDGES[-1])
        self.bins[edge][0] += 1
        self.bins[edge][1] += observation.right
        if observation.flagged:
            self.flagged += 1
            self.flagged_wrong += not observation.right
        else:
            self.unflagged += 1
            self.unflagged_right += observation.right

    def as_dict(self) -> dict[str, Any]:
        lows = (0.0, *EDGES[:-1])
        return {
            "bins": [{"from": low, "to": high, "count": n, "right": right,
                      "accuracy": round(right / n, 4) if n else None}
                     for low, (high, (n, right)) in zip(lows, self.bins.items(), strict=True)],
            "unflagged": self.unflagged, "unflagged_right": self.unflagged_right,
            "flagged": self.flagged, "flagged_wrong": self.flagged_wrong,
            "unflagged_precision": _share(self.unflagged_right, self.unflagged),
            "coverage": _share(self.unflagged, self.total),
            "flag_precision": _share(self.flagged_wrong, self.flagged),
            "errors_caught": _share(self.flagged_wrong, self.wrong),
        }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def tabulate(observations: Iterable[Observation]) -> dict[str, Reliability]:
    """One table per field, in the order the fields first appear."""
    tables: dict[str, Reliability] = {}
    for observation in observations:
        tables.setdefault(observation.field, Reliability()).add(observation)
    return tables


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def format_tables(tables: dict[str, Reliability]) -> list[str]:
    """The tables as text: a line of bins per field, then the flag's record."""
    if not tables:
        return ["  no fields to judge"]
    lows = (0.0, *EDGES[:-1])
    header = "  ".join(f"{low:.2f}-{high:.2f}" for low, high in zip(lows, EDGES, strict=True))
    lines = [f"  {'field':<22} {'confidence:':<12}{header}"]
    for name, table in tables.items():
        cells = []
        for n, right in table.bins.values():
            cells.append(f"{right:>3}/{n:<3} ".ljust(9) if n else "    -    ")
        summary = table.as_dict()
        lines.append(f"  {name:<22} {'right/n:':<12}" + " ".join(cells).rstrip())
        lines.append(
            f"  {'':<22} {'flag:':<12}{table.unflagged}/{table.total} unflagged "
            f"({_percent(summary['coverage'])}), {_percent(summary['unflagged_precision'])} of "
            f"them right; {table.flagged} flagged, {_percent(summary['flag_precision'])} of "
            f"them wrong; {table.flagged_wrong}/{table.wrong} errors caught")
    return lines
