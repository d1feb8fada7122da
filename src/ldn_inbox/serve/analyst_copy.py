"""The analyst copy: the analyst views as tables of one SQLite file, plus Datasette metadata.

Only what the views show goes in (docs/analysts.md): codes, dates, pseudonyms, review
state. No raw bytes, message text, address, name, subject, file name or Message-ID, since the
views never read them. Each codebook field gets a lookup table (``labels_<field>``: code,
Dutch and English label) that its columns point to, so Datasette shows the label beside
each code; the metadata (descriptions, facets, canned queries, license) is generated from
the codebook and the documented queries, the same sources as the data dictionary.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ldn_inbox import __version__
from ldn_inbox.codebook import FIELD_BY_NAME
from ldn_inbox.serve.views import (
    ENUM_COLUMNS,
    VIEW_DESCRIPTIONS,
    VIEW_NAMES,
    column_description,
    documented_queries,
    flag_columns,
    read_view,
)
from ldn_inbox.store.privacy import create_private, open_private

TITLE = "FibroRes naltrexone survey: analyst copy"
LICENSE = ("Confidential: pseudonymised health data of FibroRes vzw, for its analysts only; "
           "not for publication or sharing")
#: Counts below this are marked on the browse pages (docs/analysts.md: do not publish them).
SMALL_COUNT = 5
#: Facets Datasette opens each table with: what an analyst looks at first.
FACETS: dict[str, list[str]] = {
    "survey_responses": ["ldn_use", "prescriber", "prescriber_specialty", "experience",
                         "side_effects", "language", "reviewed"],
    "respondents": ["ldn_use", "prescriber", "prescriber_specialty", "experience",
                    "side_effects", "language", "reviewed"],
    "benefits_long": ["benefit", "ldn_use", "prescriber", "experience"],
    "side_effects_long": ["side_effect", "ldn_use", "prescriber", "prescriber_specialty",
                          "experience"],
    "review_queue": ["kind", "language", "needs_review"],
    "codebook_values": ["field"],
}
_PRIMARY_KEY = {"survey_responses": "response_id", "respondents": "respondent_id",
                "review_queue": "response_id"}
_REFERS_TO_REPLY = ("benefits_long", "side_effects_long")
_INTEGER = {"response_id", "replies", "reviewed", "needs_review", "position", *flag_columns()}
_REAL = {"dose_mg", "min_confidence"}


def metadata_path(path: Path) -> Path:
    """Where the metadata of the copy ``path`` lives: ``survey.sqlite`` ->
    ``survey.metadata.json``."""
    return path.with_name(path.stem + ".metadata.json")


def label_table(field: str) -> str:
    return "labels_" + field


def _label_fields() -> list[str]:
    return list(dict.fromkeys(ENUM_COLUMNS.values()))


def _column_sql(view: str, column: str) -> str:
    kind = "INTEGER" if column in _INTEGER else "REAL" if column in _REAL else "TEXT"
    sql = f"{column} {kind}"
    if column == _PRIMARY_KEY.get(view):
        sql += " PRIMARY KEY"
    if column in ENUM_COLUMNS and view != "codebook_values":
        sql += f" REFERENCES {label_table(ENUM_COLUMNS[column])}(code)"
    elif column == "response_id" and view in _REFERS_TO_REPLY:
        sql += " REFERENCES survey_responses(response_id)"
    return sql


def _write_labels(conn: sqlite3.Connection) -> None:
    for field in _label_fields():
        spec = FIELD_BY_NAME[field]
        table = label_table(field)
        conn.execute(f"CREATE TABLE {table} (code TEXT PRIMARY KEY, position INTEGER NOT NULL, "
                     "label TEXT NOT NULL, label_en TEXT NOT NULL, label_nl TEXT NOT NULL)")
        conn.executemany(
            f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)",
            [(code, i, f"{en} / {nl}", en, nl) for i, (code, nl, en) in enumerate(spec.values, 1)],
        )


def _write_view(conn: sqlite3.Connection, session: Session, view: str,
                reviewed_only: bool) -> tuple[list[str], int]:
    columns, rows = read_view(session, view, reviewed_only=reviewed_only)
    conn.execute(f"CREATE TABLE {view} ({', '.join(_column_sql(view, c) for c in columns)})")
    insert = f"INSERT INTO {view} VALUES ({', '.join('?' for _ in columns)})"
    count = 0
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(tuple(row[c] for c in columns))
        count += 1
        if len(batch) >= 1000:
            conn.executemany(insert, batch)
            batch.clear()
    conn.executemany(insert, batch)
    indexed = [c for c in (*FACETS[view], "received_date", "respondent_id") if c in columns]
    for column in dict.fromkeys(indexed):
        if column != _PRIMARY_KEY.get(view):
            conn.execute(f"CREATE INDEX idx_{view}_{column} ON {view}({column})")
    return columns, count


def build(session: Session, path: Path, *, reviewed_only: bool = False) -> dict[str, int]:
    """Write the analyst copy of the database behind ``session`` to ``path`` (replacing it,
    mode 0600) and its metadata beside it (:func:`metadata_path`); rows per view."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    create_private(partial)
    counts: dict[str, int] = {}
    columns: dict[str, list[str]] = {}
    conn = sqlite3.connect(partial)
    try:
        with conn:
            _write_labels(conn)
            for view in VIEW_NAMES:
                columns[view], counts[view] = _write_view(conn, session, view, reviewed_only)
        conn.execute("ANALYZE")
    finally:
        conn.close()
    os.replace(partial, path)
    meta = metadata(path.stem, columns, counts, reviewed_only=reviewed_only)
    with open_private(metadata_path(path), "w", encoding="utf-8") as handle:
        json.dump(meta, handle, ensure_ascii=False, indent=2)
        handle.write("\n")
    return counts


def _source(counts: dict[str, int], reviewed_only: bool) -> str:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    which = "reviewed records only" if reviewed_only else "all records, reviewed or not"
    return (f"FibroRes vzw survey mailbox, coded with ldn-inbox {__version__}; copy made "
            f"{today} (UTC) from {counts.get('survey_responses', 0)} replies ({which})")


def _tables(columns: dict[str, list[str]]) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for view in VIEW_NAMES:
        tables[view] = {
            "description": VIEW_DESCRIPTIONS[view],
            "columns": {c: column_description(c) for c in columns[view]
                        if column_description(c)},
            "facets": FACETS[view],
        }
        if view in _PRIMARY_KEY:
            tables[view]["sort"] = _PRIMARY_KEY[view]
    for field in _label_fields():
        spec = FIELD_BY_NAME[field]
        tables[label_table(field)] = {
            "description": f"Codes of {spec.label_en} ({spec.label_nl}) with their labels.",
            "label_column": "label",
            "sort": "position",
            "columns": {"label": "English / Dutch label, shown beside the code elsewhere",
                        "label_en": "English label", "label_nl": "Dutch label",
                        "position": "Place in the codebook"},
        }
    return tables


def canned_queries() -> dict[str, Any]:
    """The documented queries as Datasette canned queries."""
    queries: dict[str, Any] = {}
    for query in documented_queries():
        description = query.get("description", "")
        note = f"Counts below {SMALL_COUNT} are marked: do not publish them."
        queries[query["name"]] = {"title": query["title"], "sql": query["sql"].strip(),
                                  "description": f"{description}. {note}" if description
                                  else note}
    return queries


def count_columns() -> set[str]:
    """Columns of the canned queries that hold counts (marked when small)."""
    return {column for query in documented_queries() for column in query.get("counts", ())}


def metadata(database: str, columns: dict[str, list[str]], counts: dict[str, int], *,
             reviewed_only: bool = False) -> dict[str, Any]:
    """Datasette metadata for the copy whose database is called ``database``, with these
    columns and row counts per view."""
    about = ("Coded answers to FibroRes vzw's four questions on low-dose naltrexone, one "
             "table per analyst view (docs/analysts.md). Pseudonymised: no address, name, "
             "message text, file name or Message-ID. Each code links to its Dutch and English "
             f"label. Counts below {SMALL_COUNT} are marked: do not publish them.")
    return {
        "title": TITLE,
        "description": about,
        "license": LICENSE,
        "source": _source(counts, reviewed_only),
        "databases": {database: {
            "description": about,
            "tables": _tables(columns),
            "queries": canned_queries(),
        }},
    }
