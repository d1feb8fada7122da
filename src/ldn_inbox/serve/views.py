"""The analyst views (migration 0003, documented in docs/analysts.md) as seen from Python.

Exports of a view, Stata/SPSS files and the report read these views, never the tables that
say who wrote what. The SQL lives in the migration, frozen; the names here are derived
from the codebook the same way the migration's were, and a test keeps the two in step.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.codebook import FIELD_BY_NAME, LIST_FIELDS
from ldn_inbox.errors import ConfigError, ValidationError
from ldn_inbox.store.privacy import create_private

#: Every analyst view, in the order docs/analysts.md describes them.
VIEW_NAMES: tuple[str, ...] = (
    "survey_responses", "respondents", "benefits_long", "side_effects_long", "review_queue",
    "codebook_values",
)
#: Column prefix of the 0/1 columns of each list field.
FLAG_PREFIX: dict[str, str] = {"benefits": "benefit_", "side_effect_codes": "side_effect_"}
#: Stable row order per view (the views themselves have none).
ORDER_BY: dict[str, str] = {
    "survey_responses": "response_id",
    "respondents": "respondent_id",
    "benefits_long": "response_id, benefit",
    "side_effects_long": "response_id, side_effect",
    "review_queue": "response_id",
    "codebook_values": "field, position",
}
#: View columns whose values are one code of a codebook field (column -> field).
ENUM_COLUMNS: dict[str, str] = {
    "kind": "kind", "language": "language", "ldn_use": "ldn_use", "prescriber": "prescriber",
    "prescriber_specialty": "prescriber_specialty", "experience": "experience",
    "side_effects": "side_effects", "benefit": "benefits", "side_effect": "side_effect_codes",
}
_DATE_COLUMNS = ("received_date", "first_reply_date", "last_reply_date")
#: What each view holds, in a sentence (docs/analysts.md says more).
VIEW_DESCRIPTIONS: dict[str, str] = {
    "survey_responses": "One row per reply (a message answering at least one question), "
                        "with every correction a volunteer made applied.",
    "respondents": "One row per respondent (pseudonym) who replied, combining their replies: "
                   "the latest stated answer per question, every benefit and side effect "
                   "named in any reply.",
    "benefits_long": "One row per benefit named in a reply, with the reply's answers for "
                     "grouping.",
    "side_effects_long": "One row per side effect named in a reply, with the reply's answers "
                         "for grouping.",
    "review_queue": "Messages of any kind that wait for a volunteer: flagged by the automatic "
                    "coding or in conflict with a correction.",
    "codebook_values": "The codebook's allowed values with their Dutch and English labels.",
}
#: Columns that are not codebook fields, described as in docs/analysts.md.
COLUMN_NOTES: dict[str, str] = {
    "response_id": "The record's number; stable, and used by review_queue and the long views.",
    "respondent_id": "The writer's pseudonym (32 hex characters): the same person always has "
                     "the same one; it cannot be turned back into an address.",
    "received_date": "YYYY-MM-DD, the UTC date the message was sent.",
    "reviewed": "1 when a volunteer checked the record (respondents: every reply), else 0.",
    "needs_review": "1 when the automatic coding flagged a field and nobody reviewed it yet.",
    "replies": "How many replies this person sent.",
    "first_reply_date": "YYYY-MM-DD of their first reply.",
    "last_reply_date": "YYYY-MM-DD of their latest reply.",
    "review_fields": "The flagged fields, joined by ';'.",
    "conflicts": "Fields where a human value and a newer automatic coding disagree, joined "
                 "by ';'.",
    "min_confidence": "The lowest confidence (0 to 1) of the automatic coding's fields.",
    "field": "The codebook field.",
    "position": "The value's place in the codebook (1, 2, ...), for ordering.",
    "code": "The value as stored in the views.",
    "label_nl": "Its label in Dutch.",
    "label_en": "Its label in English.",
}


def flag_column(field: str, code: str) -> str:
    """Name of the 0/1 column for one list value, e.g. ``benefit_pain``."""
    return FLAG_PREFIX[field] + code


def flag_columns(field: str | None = None) -> list[str]:
    """The 0/1 columns in codebook order (of one list field, or of both)."""
    fields = LIST_FIELDS if field is None else (field,)
    return [flag_column(name, code) for name in fields for code in FIELD_BY_NAME[name].codes]


def check_view(name: str) -> str:
    if name not in VIEW_NAMES:
        raise ValidationError(f"unknown view {name!r}; views are: {', '.join(VIEW_NAMES)}")
    return name


def view_columns(session: Session, name: str) -> list[str]:
    result = session.execute(sa.text(f"SELECT * FROM {check_view(name)} WHERE 1 = 0"))
    return list(result.keys())


def read_view(session: Session, name: str, *,
              reviewed_only: bool = False) -> tuple[list[str], Iterator[dict[str, Any]]]:
    """Column names and rows (dicts) of an analyst view, in a stable order.

    ``reviewed_only`` keeps the rows with ``reviewed = 1`` (views without that column are
    returned whole).
    """
    columns = view_columns(session, name)
    where = " WHERE reviewed = 1" if reviewed_only and "reviewed" in columns else ""
    result = session.execute(sa.text(f"SELECT * FROM {name}{where} ORDER BY {ORDER_BY[name]}"))

    def rows() -> Iterator[dict[str, Any]]:
        for row in result.mappings():
            yield {column: _plain(row[column]) for column in columns}

    return columns, rows()


def _plain(value: Any) -> Any:
    """Database values as JSON-friendly Python (PostgreSQL returns Decimal for numerics)."""
    if isinstance(value, bool):
        return int(value)
    if value is None or isinstance(value, (str, int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def column_label(column: str) -> str:
    """English label of a view column, for Stata and SPSS variable labels."""
    for field, prefix in FLAG_PREFIX.items():
        if column.startswith(prefix) and column[len(prefix):] in FIELD_BY_NAME[field].codes:
            code = column[len(prefix):]
            label = next(en for c, _, en in FIELD_BY_NAME[field].values if c == code)
            return f"{FIELD_BY_NAME[field].label_en}: {label}"
    if column in ENUM_COLUMNS:
        return FIELD_BY_NAME[ENUM_COLUMNS[column]].label_en
    if column in FIELD_BY_NAME:
        return FIELD_BY_NAME[column].label_en
    return column.replace("_", " ")


def column_description(column: str) -> str:
    """What a view column holds, from the codebook where it is a field (labels in English and
    Dutch, the question, the coding rule), else from :data:`COLUMN_NOTES`."""
    for field, prefix in FLAG_PREFIX.items():
        code = column[len(prefix):]
        if column.startswith(prefix) and code in FIELD_BY_NAME[field].codes:
            _, nl, en = next(v for v in FIELD_BY_NAME[field].values if v[0] == code)
            return f"1 when the reply names {en} ({nl}) under {FIELD_BY_NAME[field].label_en}."
    name = ENUM_COLUMNS.get(column, column)
    spec = FIELD_BY_NAME.get(name)
    if spec is None:
        return COLUMN_NOTES.get(column, "")
    text = f"{spec.label_en} ({spec.label_nl})"
    if spec.question:
        text += f", question {spec.question}"
    if column != name:
        text += ": one code per row"
    elif spec.type == "list":
        text += ": codes joined by ';' in codebook order, '' when none"
    return f"{text}. {spec.rule}"


def documented_queries() -> list[dict[str, Any]]:
    """The example queries of docs/analysts.md (name, title, description, counts, sql)."""
    source = resources.files("ldn_inbox").joinpath("data/analyst_queries.toml")
    queries: list[dict[str, Any]] = tomllib.loads(source.read_text("utf-8"))["query"]
    return queries


def write_stats_file(columns: list[str], rows: Iterator[dict[str, Any]], path: Path,
                     fmt: str) -> int:
    """Write rows as a Stata (``dta``) or SPSS (``sav``) file; returns the row count.

    Codebook fields become numbers 1..n in codebook order with the codes as value labels
    (Stata labels numbers only); 0/1 columns are labelled no/yes; dates become dates.
    """
    try:
        import pandas as pd
        import pyreadstat
    except ImportError:
        raise ConfigError(
            f"--format {fmt} needs pyreadstat and pandas: pip install 'ldn-inbox[stats]'"
        ) from None
    data: dict[str, list[Any]] = {column: [] for column in columns}
    count = 0
    for row in rows:
        for column in columns:
            data[column].append(_stats_value(column, row[column]))
        count += 1
    value_labels: dict[str, dict[float, str]] = {}
    for column in columns:
        if column in ENUM_COLUMNS:
            codes = FIELD_BY_NAME[ENUM_COLUMNS[column]].codes
            value_labels[column] = {float(i): code for i, code in enumerate(codes, 1)}
        elif column in ("reviewed", "needs_review") or column in flag_columns():
            value_labels[column] = {0.0: "no", 1.0: "yes"}
    frame = pd.DataFrame(data, columns=columns)
    for column in columns:
        if column in value_labels or column in ("dose_mg", "min_confidence", "replies"):
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
    labels: list[str | None] = [column_label(column) for column in columns]
    if fmt in ("dta", "sav"):
        create_private(path)  # mode 0600, kept when pyreadstat writes it
    if fmt == "dta":
        # Stata names a value-label set after its variable, in at most 31 characters:
        # side_effect_anxiety_irritability (32) keeps its 0/1 without labels there.
        value_labels = {k: v for k, v in value_labels.items() if len(k) <= 31}
        pyreadstat.write_dta(frame, str(path), column_labels=labels,
                             variable_value_labels=value_labels, version=15)
    elif fmt == "sav":
        pyreadstat.write_sav(frame, str(path), column_labels=labels,
                             variable_value_labels=value_labels)
    else:
        raise ValidationError(f"unknown statistics format {fmt!r}; use dta or sav")
    return count


def _stats_value(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in ENUM_COLUMNS:
        codes = FIELD_BY_NAME[ENUM_COLUMNS[column]].codes
        if value not in codes:
            raise ValidationError(
                f"{column} holds {value!r}, which the codebook does not know; correct the "
                "record before exporting to Stata or SPSS"
            )
        return codes.index(value) + 1
    if column in _DATE_COLUMNS:
        return dt.date.fromisoformat(str(value))
    return value
