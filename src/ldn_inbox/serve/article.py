"""The cross-tables an article needs, with shares, intervals and a sentence per group.

Pure: rows of the ``respondents`` or ``survey_responses`` view (as dicts) in, tables out.
Every table counts users (``ldn_use`` current or past) and applies the small-number rule of
:mod:`ldn_inbox.serve.proportions`: groups under ``MIN_GROUP`` are merged, counts under
``MIN_COUNT`` hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ldn_inbox.codebook import FIELD_BY_NAME
from ldn_inbox.serve.proportions import MIN_COUNT, MIN_GROUP, Share, hidden_grid, in_tens
from ldn_inbox.serve.wording import FRENCH, WORDS, percent

Row = Mapping[str, Any]
USERS = ("current", "past")
_EXPERIENCES = ("positive", "mixed", "no_effect", "negative")
#: Upper edges of the dose bands (mg/day) and their word keys; above the last: ``dose_gt_4_5``.
DOSE_BANDS: tuple[tuple[float, str], ...] = (
    (1.5, "dose_le_1_5"), (3.0, "dose_1_5_3"), (4.5, "dose_3_4_5"),
)


def label(field: str, code: str, lang: str) -> str:
    """A code's label in ``lang`` (French from wording.FRENCH, else the codebook's)."""
    if lang == "fr":
        return FRENCH.get(field, ("", {}))[1].get(code, code)
    for value, label_nl, label_en in FIELD_BY_NAME[field].values:
        if value == code:
            return label_nl if lang == "nl" else label_en
    return code


def field_title(field: str, lang: str) -> str:
    """A field's title in ``lang``."""
    if lang == "fr":
        return FRENCH[field][0]
    spec = FIELD_BY_NAME[field]
    return spec.label_nl if lang == "nl" else spec.label_en


@dataclass(frozen=True)
class Group:
    """One column of a cross-table: who, how many, and one share per category."""

    label: str
    n: int
    cells: tuple[Share, ...]
    sentence: str = ""


@dataclass(frozen=True)
class ArticleTable:
    """A cross-table: categories (rows) by groups (columns); a single group for a plain
    share table. ``headline`` is the category each group's sentence is about (None: the
    group's largest shown one)."""

    key: str
    title: str
    categories: tuple[str, ...]
    groups: tuple[Group, ...]
    headline: int | None = 0
    note: str = ""
    caveat: str = ""

    @property
    def n(self) -> int:
        return sum(group.n for group in self.groups)

    def paragraph(self) -> str:
        """The plain-language paragraph: one sentence per group, then the caveat."""
        return " ".join([*(g.sentence for g in self.groups), self.caveat])


@dataclass(frozen=True)
class _Spec:
    """How to build one table: who counts, how to group them, what each category tests."""

    key: str
    population: Callable[[Row], bool]
    categories: Sequence[tuple[str, Callable[[Row], bool]]]
    exclusive: bool
    grouping: Callable[[Row], str] | None = None
    group_order: Sequence[str] = ()
    headline: int | None = 0
    word: str = ""


def _codes(row: Row, name: str) -> set[str]:
    return {c for c in str(row.get(name) or "").split(";") if c}


def _is(name: str, code: str) -> Callable[[Row], bool]:
    return lambda row: row.get(name) == code


def _names(name: str, code: str) -> Callable[[Row], bool]:
    return lambda row: code in _codes(row, name)


def dose_band(row: Row) -> str:
    """The word key of a row's dose band (``dose_none`` without a dose)."""
    dose = row.get("dose_mg")
    if dose is None:
        return "dose_none"
    return next((key for edge, key in DOSE_BANDS if float(dose) <= edge), "dose_gt_4_5")


def _users(row: Row) -> bool:
    return row.get("ldn_use") in USERS


def _stated(row: Row) -> bool:
    """A user who described the experience."""
    return _users(row) and row.get("experience") in _EXPERIENCES


def _specs(lang: str) -> list[_Spec]:
    w = WORDS[lang]
    stated = _stated
    experience = [(label("experience", c, lang), _is("experience", c)) for c in _EXPERIENCES]
    side_codes = FIELD_BY_NAME["side_effect_codes"].codes
    return [
        _Spec("experience", stated, experience, True, word="experience"),
        _Spec("experience_by_prescriber", stated, experience, True,
              grouping=lambda row: label("prescriber", str(row.get("prescriber")), lang),
              group_order=[label("prescriber", c, lang)
                           for c in FIELD_BY_NAME["prescriber"].codes],
              word="experience"),
        _Spec("experience_by_specialty",
              lambda row: stated(row) and row.get("prescriber") == "specialist",
              experience, True,
              grouping=lambda row: label("prescriber_specialty",
                                         str(row.get("prescriber_specialty") or "unknown"),
                                         lang),
              group_order=[label("prescriber_specialty", c, lang)
                           for c in FIELD_BY_NAME["prescriber_specialty"].codes],
              word="experience"),
        _Spec("side_effects_by_dose",
              lambda row: _users(row) and row.get("side_effects") in ("yes", "no"),
              [(w["any_side_effect"], _is("side_effects", "yes")),
               *((label("side_effect_codes", c, lang), _names("side_effect_codes", c))
                 for c in side_codes)],
              False, grouping=lambda row: w[dose_band(row)],
              group_order=[*(w[key] for _, key in DOSE_BANDS), w["dose_gt_4_5"],
                           w["dose_none"]],
              word="side_effects"),
        _Spec("stopping", _users,
              [(w["stop_no_effect"], _is("experience", "no_effect")),
               (w["stop_negative"], _is("experience", "negative")),
               (w["stop_side_effects"], _is("side_effects", "yes")),
               (w["stop_mixed"], _is("experience", "mixed")),
               (w["stop_positive"], _is("experience", "positive"))],
              False,
              grouping=lambda row: w["past_users" if row.get("ldn_use") == "past"
                                     else "current_users"],
              group_order=[w["past_users"], w["current_users"]], headline=None,
              word="stopping"),
        _Spec("benefits_positive", lambda row: stated(row) and row["experience"] == "positive",
              [(label("benefits", c, lang), _names("benefits", c))
               for c in FIELD_BY_NAME["benefits"].codes],
              False, headline=None, word="benefits"),
    ]


def _merge_small(groups: dict[str, list[Row]], order: Sequence[str],
                 merged_label: tuple[str, str], colon: str) -> list[tuple[str, list[Row]]]:
    """Groups in ``order`` (others after, by name); those under MIN_GROUP as one group,
    labelled ``merged_label[0]`` when it is all of them, else ``merged_label[1]``; a lone
    small group has nothing to merge with and keeps its name."""
    names = [g for g in order if g in groups] + sorted(g for g in groups if g not in order)
    kept = [(g, groups[g]) for g in names if len(groups[g]) >= MIN_GROUP]
    small = [g for g in names if len(groups[g]) < MIN_GROUP]
    if len(small) == 1:
        kept.append((small[0], groups[small[0]]))
    elif small:
        rows = [row for g in small for row in groups[g]]
        kept.append((f"{merged_label[bool(kept)]}{colon}{', '.join(small)}", rows))
    return kept


def sentence(group: str, share: Share | None, category: str, who: str, said: str,
             lang: str) -> str:
    """One group's sentence, e.g. "about 6 in 10 of the 142 users who described their
    experience called it positive (58%; 95% CI 50–66%)"; ``group`` is '' for a table of
    one group. The numbers are the share's own, rounded as the table shows them."""
    w = WORDS[lang]
    name = group or w["all_users"]
    if share is None or share.base < MIN_COUNT:
        return w["too_few"].format(group=name, colon=w["colon"])
    if share.hidden:
        return w["hidden"].format(group=name, label=category, colon=w["colon"])
    k, d = in_tens(share.value)
    low, high = share.interval
    form = {share.base: "sentence_all", 0: "sentence_none"}.get(share.count, "sentence")
    text = w[form].format(
        group=f"{group}{w['colon']}" if group else "", k=k, d=d, n=share.base, who=who,
        said=said.format(label=category), pct=percent(round(100 * share.value), lang),
        ci=w["ci"], low=round(100 * low), high=percent(round(100 * high), lang))
    return text[0].upper() + text[1:]


def _groups(members: list[tuple[str, list[Row]]], spec: _Spec, labels: list[str],
            lang: str, single: bool) -> list[Group]:
    """The groups' shares, hidden as the small-number rule says, and their sentences."""
    columns = [[sum(1 for row in rows if test(row)) for _, test in spec.categories]
               for _, rows in members]
    bases = [len(rows) for _, rows in members]
    hidden = hidden_grid(columns, bases, exclusive=spec.exclusive) if members else []
    w = WORDS[lang]
    groups = []
    for (name, _), counts, base, flags in zip(members, columns, bases, hidden, strict=True):
        cells = tuple(Share(c, base, hidden=h) for c, h in zip(counts, flags, strict=True))
        index = spec.headline
        if index is None:  # the largest shown, else the largest
            shown = [i for i, c in enumerate(cells) if not c.hidden and c.count]
            index = max(shown or range(len(cells)), key=lambda i: cells[i].count)
        text = sentence("" if single else name, cells[index] if cells else None,
                        labels[index], w[f"who_{spec.word}"], w[f"said_{spec.word}"], lang)
        groups.append(Group(name, base, cells, text))
    return groups


def build(rows: Iterable[Row], lang: str) -> list[ArticleTable]:
    """The article's tables from view rows (see module docstring)."""
    rows = list(rows)
    w = WORDS[lang]
    tables = []
    for spec in _specs(lang):
        people = [row for row in rows if spec.population(row)]
        labels = [name for name, _ in spec.categories]
        if spec.grouping is None:
            groups = _groups([("", people)], spec, labels, lang, single=True)
        else:
            by: dict[str, list[Row]] = {}
            for row in people:
                by.setdefault(spec.grouping(row), []).append(row)
            merged = _merge_small(by, spec.group_order, (w["merged_all"], w["merged"]),
                                  w["colon"])
            groups = _groups(merged, spec, labels, lang, single=False)
        tables.append(ArticleTable(
            spec.key, w[f"t_{spec.key}"], tuple(labels), tuple(groups), spec.headline,
            note=w["stopping_note"] if spec.key == "stopping" else "", caveat=w["caveat"]))
    return tables
