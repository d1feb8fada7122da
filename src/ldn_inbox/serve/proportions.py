"""Shares with their uncertainty, and the small-number rule for what may be published.

Pure arithmetic, no database. A share is a count out of a base (the people who answered);
its 95% confidence interval is Wilson's score interval, which stays inside 0-100% and
behaves for small bases and for shares near 0 or 1 (the plain "p ± 1.96·se" does neither).

The small-number rule (docs/analysts.md, "Small numbers"): a count from 1 to 4 is not shown
(``<5``), and when a table would let it be worked out by subtraction (from the base and
the other cells of a single-answer table, or from a row total shown elsewhere), the next
smallest cell is hidden too. A group (a column of a cross-table) with fewer than
:data:`MIN_GROUP` people is merged into one "other" group.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Counts below this are not published (docs/analysts.md).
MIN_COUNT = 5
#: A group of a cross-table needs this many people to be shown on its own.
MIN_GROUP = 10
#: The normal quantile for a two-sided 95% interval.
Z95 = 1.959963984540054


def wilson(count: int, base: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for ``count`` out of ``base``, as shares (0..1).

    >>> tuple(round(x, 4) for x in wilson(81, 263))
    (0.2553, 0.3662)
    """
    if base <= 0:
        return (0.0, 1.0)
    if not 0 <= count <= base:
        raise ValueError(f"count {count} outside 0..{base}")
    p = count / base
    z2 = z * z
    centre = p + z2 / (2 * base)
    spread = z * math.sqrt(p * (1 - p) / base + z2 / (4 * base * base))
    denominator = 1 + z2 / base
    low = (centre - spread) / denominator
    high = (centre + spread) / denominator
    # the exact ends: 0 out of n starts at 0, n out of n ends at 1 (no rounding drift)
    return (0.0 if count == 0 else max(0.0, low), 1.0 if count == base else min(1.0, high))


@dataclass(frozen=True)
class Share:
    """A count out of a base, with its interval; ``hidden`` when the rule forbids showing it."""

    count: int
    base: int
    hidden: bool = False

    @property
    def value(self) -> float:
        return self.count / self.base if self.base else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.count, self.base)

    @property
    def mark(self) -> str:
        """What a hidden cell shows: ``<5`` for a small count, ``×`` for one held back so
        that a small one cannot be worked out (it is 5 or more: ``<5`` would be untrue)."""
        return f"<{MIN_COUNT}" if self.count < MIN_COUNT else "×"

    def percent(self) -> str:
        """``58%`` (or the :attr:`mark` when hidden)."""
        return self.mark if self.hidden else f"{round(100 * self.value)}%"

    def interval_text(self) -> str:
        """``50–66%`` for the 95% interval ('' when hidden)."""
        if self.hidden:
            return ""
        low, high = self.interval
        return f"{round(100 * low)}–{round(100 * high)}%"


def small(count: int) -> bool:
    """A count the rule forbids publishing (1 to 4; 0 may be shown)."""
    return 0 < count < MIN_COUNT


def hidden_cells(counts: Sequence[int], *, exclusive: bool) -> list[bool]:
    """Which cells to hide: the small ones, and for ``exclusive`` cells (each person in one
    cell, the base shown) enough others that none can be worked out by subtraction."""
    hidden = [small(c) for c in counts]
    if exclusive and sum(hidden) == 1:
        others = [(c, i) for i, c in enumerate(counts) if not hidden[i] and c > 0]
        if others:
            hidden[min(others)[1]] = True
    return hidden


def hidden_grid(columns: Sequence[Sequence[int]], bases: Sequence[int], *,
                exclusive: bool) -> list[list[bool]]:
    """The rule for a cross-table (one column of counts per group, out of its base, the
    same categories in each): every count of a group under MIN_COUNT people is hidden;
    otherwise each column as :func:`hidden_cells`; and when a row has one hidden cell,
    the next smallest of that row is hidden too, since the row's total is shown elsewhere
    (the one-way table, or the wider group it splits)."""
    hidden = [[c > 0 for c in column] if small(base)
              else hidden_cells(column, exclusive=exclusive)
              for column, base in zip(columns, bases, strict=True)]
    changed = len(columns) > 1
    while changed:
        changed = False
        for row in range(len(columns[0])):
            others = [(column[row], i) for i, column in enumerate(columns)
                      if not hidden[i][row] and column[row] > 0]
            if sum(h[row] for h in hidden) == 1 and others:
                hidden[min(others)[1]][row] = changed = True
        for column, flags in zip(columns, hidden, strict=True):
            others = [(c, j) for j, c in enumerate(column) if not flags[j] and c > 0]
            if exclusive and sum(flags) == 1 and others:
                flags[min(others)[1]] = changed = True
    return hidden


def shares(counts: Sequence[int], base: int, *, exclusive: bool) -> list[Share]:
    """The counts as :class:`Share` of ``base`` with the small-number rule applied."""
    flags = hidden_grid([counts], [base], exclusive=exclusive)[0]
    return [Share(c, base, hidden=h) for c, h in zip(counts, flags, strict=True)]


def in_tens(value: float) -> tuple[int, int]:
    """A share in words' terms: ``(6, 10)`` for "about 6 in 10", ``(3, 100)`` for small or
    near-total shares where tens would say 0 or 10."""
    tens = round(value * 10)
    if 1 <= tens <= 9 and 0.1 <= value <= 0.9:
        return (tens, 10)
    return (round(value * 100), 100)
