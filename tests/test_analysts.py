"""Analyst views, the example queries of docs/analysts.md, exports, codebook, stats, report.

The views and every documented query run on SQLite and on PostgreSQL and must give the
same rows on both. Codings come from corrections (analyst_data.CODINGS), not from the
extractor, so these tests check structure and agreement, not the extractor's accuracy.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from analyst_data import ROOT, import_files, loaded_url, set_coding
from conftest import run_cli
from sqlalchemy.orm import Session

from ldn_inbox.codebook import FIELDS
from ldn_inbox.serve.views import ORDER_BY, VIEW_NAMES, flag_columns
from ldn_inbox.store.db import open_database, session_factory
from ldn_inbox.store.models import Contact, Message

DOCS = ROOT / "docs" / "analysts.md"
MIGRATION = ROOT / "alembic" / "versions" / "0003_analyst_views.py"
ANSWER_COLUMNS = [
    "language", "ldn_use", "prescriber", "prescriber_specialty", "experience", "benefits",
    "side_effects", "side_effect_codes", "dose_mg", "reviewed", "needs_review",
]
EXPECTED_COLUMNS = {
    "survey_responses": ["response_id", "respondent_id", "received_date", *ANSWER_COLUMNS,
                         *flag_columns()],
    "respondents": ["respondent_id", "replies", "first_reply_date", "last_reply_date",
                    *ANSWER_COLUMNS, *flag_columns()],
}


def _doc_queries() -> list[Any]:
    """Each ```sql block of docs/analysts.md, with the heading above it as its id."""
    text = DOCS.read_text("utf-8")
    queries = []
    for match in re.finditer(r"```sql\n(.*?)```", text, re.DOTALL):
        heading = re.findall(r"^#+ (.+)$", text[: match.start()], re.MULTILINE)[-1]
        slug = re.sub(r"\W+", "-", heading.lower()).strip("-")[:50]
        queries.append(pytest.param(match.group(1), id=slug))
    return queries


DOC_QUERIES = _doc_queries()


def _normal(value: Any) -> Any:
    """Values as comparable across backends (PostgreSQL numerics come back as Decimal)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (Decimal, float)):
        return round(float(value), 6)
    return value


def _run(url: str, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            result = conn.execute(sa.text(sql))
            return list(result.keys()), [tuple(_normal(v) for v in row) for row in result]
    finally:
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with every fixture (and dev set) message, coded; shared, read-only."""
    return loaded_url(
        request.param, lambda: tmp_path_factory.mktemp("analysts"),
        lambda name: request.getfixturevalue("postgres").create_database(name),
    )


@pytest.fixture(scope="module")
def both(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) \
        -> tuple[str, str]:
    """The SQLite and the PostgreSQL database with the same messages and codings."""
    def pg(name: str) -> str:
        return str(request.getfixturevalue("postgres").create_database(name))

    def tmp() -> Path:
        return tmp_path_factory.mktemp("analysts")

    return loaded_url("sqlite", tmp, pg), loaded_url("postgres", tmp, pg)


def invoke(runner: Any, url: str, *args: str, input: str | None = None) -> Any:
    """Run the CLI on ``url`` (the exit code is the caller's to check)."""
    return run_cli(runner, args, db=url, code=None, input=input)


# --------------------------------------------------------------------------- the views
def test_views_have_the_codebook_columns(loaded: str) -> None:
    for view, expected in EXPECTED_COLUMNS.items():
        columns, _ = _run(loaded, f"SELECT * FROM {view} WHERE 1 = 0")
        assert columns == expected, f"{view}: the frozen SQL in {MIGRATION.name} no longer " \
            "matches codebook.FIELDS; add a migration that recreates the views"


def test_codebook_values_view_matches_the_codebook(loaded: str) -> None:
    _, rows = _run(loaded, "SELECT field, position, code, label_nl, label_en "
                           "FROM codebook_values ORDER BY field, position")
    expected = sorted(
        (spec.name, i, code, nl, en)
        for spec in FIELDS for i, (code, nl, en) in enumerate(spec.values, 1)
    )
    assert rows == expected


def test_survey_responses_agree_with_the_records(loaded: str) -> None:
    _, rows = _run(loaded, "SELECT COUNT(*) FROM responses WHERE kind = 'reply'")
    _, view = _run(loaded, "SELECT COUNT(*), COUNT(DISTINCT response_id) FROM survey_responses")
    assert view[0] == (rows[0][0], rows[0][0]), "one row per reply"
    _, flags = _run(loaded, "SELECT " + " + ".join(f"SUM({c})" for c in flag_columns()) +
                    " FROM survey_responses")
    _, items = _run(loaded, "SELECT COUNT(*) FROM response_items i JOIN responses r "
                            "ON r.message_pk = i.message_pk WHERE r.kind = 'reply'")
    assert flags[0][0] == items[0][0], "0/1 columns = list items"
    _, joined = _run(loaded, "SELECT benefits, benefit_pain, benefit_sleep FROM "
                             "survey_responses WHERE benefits LIKE '%pain%'")
    assert joined
    assert all(row[1] == 1 for row in joined)
    _, long_rows = _run(loaded, "SELECT COUNT(*) FROM benefits_long")
    _, flag_sum = _run(loaded, "SELECT " + " + ".join(
        f"SUM({c})" for c in flag_columns("benefits")) + " FROM survey_responses")
    assert long_rows[0][0] == flag_sum[0][0], "benefits_long: one row per mention"


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_views_are_identical_on_sqlite_and_postgres(both: tuple[str, str], view: str) -> None:
    sqlite_rows = _run(both[0], f"SELECT * FROM {view} ORDER BY {ORDER_BY[view]}")
    postgres_rows = _run(both[1], f"SELECT * FROM {view} ORDER BY {ORDER_BY[view]}")
    assert sqlite_rows[0] == postgres_rows[0], "columns"
    assert sqlite_rows[1] == postgres_rows[1]
    assert sqlite_rows[1], f"{view} is empty: the test data should fill it"


def test_respondents_combine_follow_ups(db_url: str) -> None:
    """Latest non-unknown value per field, specialty with it, lists united, non-replies out."""
    engine = open_database(db_url)
    start = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    codings = [
        {"kind": "reply", "ldn_use": "current", "prescriber": "specialist",
         "prescriber_specialty": "rheumatology", "experience": "positive",
         "benefits": ["pain"], "side_effects": "yes", "side_effect_codes": ["vivid_dreams"],
         "dose_mg": 4.5, "language": "nl"},
        {"kind": "reply", "ldn_use": "past", "prescriber": "unknown",
         "prescriber_specialty": None, "experience": "unknown", "benefits": ["sleep"],
         "side_effects": "unknown", "side_effect_codes": [], "dose_mg": None,
         "language": "fr"},
        {"kind": "reply", "ldn_use": "unknown", "prescriber": "specialist",
         "prescriber_specialty": "unknown", "experience": "unknown", "benefits": [],
         "side_effects": "unknown", "side_effect_codes": [], "dose_mg": None,
         "language": "nl"},
        {"kind": "auto_reply", "language": "en"},
    ]
    with session_factory(engine)() as session:
        session.add(Contact(respondent_id="r1", address="x@example.org"))
        for i, coding in enumerate(codings):
            message = Message(message_id=f"m{i}@test", respondent_id="r1",
                              received_at=start + timedelta(days=i))
            session.add(message)
            session.flush()
            set_coding(session, message, coding, reviewed=i < 2)
        session.commit()
    engine.dispose()
    columns, rows = _run(db_url, "SELECT * FROM respondents")
    assert len(rows) == 1
    row = dict(zip(columns, rows[0], strict=True))
    expected = {
        "respondent_id": "r1", "replies": 3, "first_reply_date": "2024-03-01",
        "last_reply_date": "2024-03-03", "language": "nl", "ldn_use": "past",
        "prescriber": "specialist", "prescriber_specialty": "rheumatology",
        "experience": "positive", "benefits": "pain;sleep", "side_effects": "yes",
        "side_effect_codes": "vivid_dreams", "dose_mg": 4.5, "reviewed": 0,
        "needs_review": 0, "benefit_pain": 1, "benefit_sleep": 1, "benefit_mood": 0,
        "side_effect_vivid_dreams": 1,
    }
    for name, value in expected.items():
        assert row[name] == value, name


# --------------------------------------------------------------------------- the docs
def test_docs_have_ten_queries_and_a_section_per_view() -> None:
    assert len(DOC_QUERIES) >= 10
    text = DOCS.read_text("utf-8")
    for view in VIEW_NAMES:
        assert f"### `{view}`" in text, f"docs/analysts.md has no section for {view}"


@pytest.mark.parametrize("sql", DOC_QUERIES)
def test_doc_query_runs(loaded: str, sql: str) -> None:
    columns, rows = _run(loaded, sql)
    assert columns
    assert rows, "the example returns nothing on the test data"


@pytest.mark.parametrize("sql", DOC_QUERIES)
def test_doc_query_same_on_both(both: tuple[str, str], sql: str) -> None:
    assert _run(both[0], sql) == _run(both[1], sql)


def test_every_view_column_is_documented(loaded: str) -> None:
    text = DOCS.read_text("utf-8")
    for view in VIEW_NAMES:
        columns, _ = _run(loaded, f"SELECT * FROM {view} WHERE 1 = 0")
        missing = [c for c in columns if f"`{c}`" not in text]
        assert not missing, f"{view}: undocumented columns {missing}"


# --------------------------------------------------------------------------- exports
def test_export_csv_bom_delimiter_and_reviewed_only(loaded: str, runner: Any, env: Path,
                                                     tmp_path: Path) -> None:
    out = tmp_path / "all.csv"
    result = invoke(runner, loaded, "export", "--format", "csv", "--delimiter", ";",
                    "-o", str(out))
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel"
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows
    assert "respondent_id" in rows[0]
    reviewed = tmp_path / "reviewed.csv"
    result = invoke(runner, loaded, "export", "-f", "csv", "--reviewed-only", "-o",
                    str(reviewed))
    assert result.exit_code == 0, result.output
    kept = list(csv.DictReader(io.StringIO(reviewed.read_text("utf-8-sig"))))
    assert 0 < len(kept) < len(rows)
    assert {row["reviewed"] for row in kept} == {"true"}


@pytest.mark.parametrize("view", ["survey_responses", "respondents", "side_effects_long"])
def test_export_view_formats(loaded: str, runner: Any, env: Path, tmp_path: Path,
                             view: str) -> None:
    _, expected = _run(loaded, f"SELECT COUNT(*) FROM {view} WHERE reviewed = 1")
    jsonl = tmp_path / "v.jsonl"
    result = invoke(runner, loaded, "export", "--view", view, "--reviewed-only", "-o",
                    str(jsonl))
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in jsonl.read_text("utf-8").splitlines()]
    assert len(records) == expected[0][0]
    assert all(r["reviewed"] == 1 for r in records)
    xlsx = tmp_path / "v.xlsx"
    result = invoke(runner, loaded, "export", "--view", view, "-f", "xlsx", "-o", str(xlsx))
    assert result.exit_code == 0, result.output
    from openpyxl import load_workbook

    workbook = load_workbook(xlsx, read_only=True)
    header = next(workbook[view].iter_rows(values_only=True))
    workbook.close()
    assert list(header) == _run(loaded, f"SELECT * FROM {view} WHERE 1 = 0")[0]


@pytest.mark.parametrize("fmt", ["dta", "sav"])
def test_export_stata_spss(loaded: str, runner: Any, env: Path, tmp_path: Path,
                           fmt: str) -> None:
    pyreadstat = pytest.importorskip("pyreadstat")
    out = tmp_path / f"survey.{fmt}"
    result = invoke(runner, loaded, "export", "-f", fmt, "-o", str(out))
    assert result.exit_code == 0, result.output
    reader = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
    frame, meta = reader(str(out))
    _, count = _run(loaded, "SELECT COUNT(*) FROM survey_responses")
    assert len(frame) == count[0][0]
    assert meta.variable_value_labels["ldn_use"] == {1: "current", 2: "past", 3: "never",
                                                     4: "unknown"}
    assert meta.variable_value_labels["benefit_pain"] == {0: "no", 1: "yes"}
    assert "benefit_pain" in frame.columns


def test_export_rejects_bad_options(loaded: str, runner: Any, env: Path) -> None:
    for args in (["-f", "pdf"], ["--view", "messages"], ["-f", "xlsx"],
                 ["--view", "respondents", "--kind", "reply"], ["--delimiter", ";;"]):
        result = invoke(runner, loaded, "export", *args)
        assert result.exit_code == 2, (args, result.output)


# --------------------------------------------------------------------------- codebook
def test_codebook_formats(runner: Any, env: Path, tmp_path: Path, sqlite_url: str) -> None:
    result = invoke(runner, sqlite_url, "codebook", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [f["field"] for f in data["fields"]] == [f.name for f in FIELDS]
    use = next(f for f in data["fields"] if f["field"] == "ldn_use")
    assert all(use[key] for key in ("label_nl", "label_en", "rule"))
    assert [v["code"] for v in use["values"]] == ["current", "past", "never", "unknown"]
    out = tmp_path / "codebook.csv"
    result = invoke(runner, sqlite_url, "codebook", "-f", "csv", "--delimiter", ";", "-o",
                    str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8-sig")), delimiter=";"))
    assert {"field", "label_nl", "label_en", "type", "code", "rule"} <= set(rows[0])
    assert sum(len(f.values) or 1 for f in FIELDS) == len(rows)
    result = invoke(runner, sqlite_url, "codebook")
    assert result.exit_code == 0
    for spec in FIELDS:
        assert f"`{spec.name}`" in result.stdout
    assert invoke(runner, sqlite_url, "codebook", "-f", "xml").exit_code == 2


# --------------------------------------------------------------------------- stats, report
def test_stats_and_report(loaded: str, runner: Any, env: Path, tmp_path: Path) -> None:
    result = invoke(runner, loaded, "stats")
    assert result.exit_code == 0, result.output
    for title in ("Messages by kind", "LDN use", "Prescriber", "Language", "Benefits",
                  "Side-effect types", "Review progress", "Replies received"):
        assert title in result.stdout, title
    _, count = _run(loaded, "SELECT COUNT(*) FROM respondents WHERE ldn_use = 'current'")
    assert re.search(rf"current\s+current user\s+{count[0][0]}\s", result.stdout)
    result_nl = invoke(runner, loaded, "stats", "--unit", "replies", "--lang", "nl")
    assert "Gebruik van LDN" in result_nl.stdout
    out = tmp_path / "report.html"
    result = invoke(runner, loaded, "report", "--output", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text("utf-8")
    assert page.count("<svg") >= 9
    assert "<script" not in page.lower()
    assert not re.search(r"\b(src|href)\s*=", page), "nothing is loaded"
    assert "Content-Security-Policy" in page
    first, last = _run(loaded, "SELECT MIN(received_date), MAX(received_date) "
                               "FROM survey_responses")[1][0]
    assert str(first) in page
    assert str(last) in page
    assert invoke(runner, loaded, "stats", "--unit", "people").exit_code == 2


def test_report_escapes_message_derived_strings(db_url: str, runner: Any, env: Path,
                                                tmp_path: Path) -> None:
    evil = "<script>x</script>"  # fits the code columns (VARCHAR(32) on PostgreSQL)
    engine = open_database(db_url)
    with session_factory(engine)() as session:
        message = Message(message_id="evil@test", subject=evil, own_text=evil,
                          received_at=datetime(2024, 3, 1, tzinfo=UTC))
        session.add(message)
        session.flush()
        set_coding(session, message, {"kind": "reply", "language": "<b>&", "ldn_use": "past",
                                      "prescriber": "specialist",
                                      "prescriber_specialty": evil, "benefits": [],
                                      "side_effect_codes": []})
        session.commit()
    engine.dispose()
    out = tmp_path / "report.html"
    result = invoke(runner, db_url, "report", "--unit", "replies", "-o", str(out))
    assert result.exit_code == 0, result.output
    page = out.read_text("utf-8")
    assert "<script" not in page
    assert "&lt;script&gt;" in page, "shown as text"
    assert "&lt;b&gt;&amp;" in page
    stats = invoke(runner, db_url, "stats", "--unit", "replies")
    assert stats.exit_code == 0
    assert evil in stats.stdout


def test_empty_database_report(sqlite_url: str, runner: Any, env: Path,
                               tmp_path: Path) -> None:
    assert invoke(runner, sqlite_url, "db", "upgrade").exit_code == 0  # made, nothing in it
    result = invoke(runner, sqlite_url, "stats")
    assert result.exit_code == 0, result.output
    assert "no data" in result.stdout
    out = tmp_path / "r.html"
    assert invoke(runner, sqlite_url, "report", "-o", str(out)).exit_code == 0
    assert "<html" in out.read_text("utf-8")


def test_small_import_codes_through_views(db_url: str) -> None:
    """The pipeline's own output (whatever the extractor codes) fills the views."""
    files = sorted((ROOT / "fixtures" / "emails").glob("*.eml"))[:6]
    if not files:
        pytest.skip("no fixture messages yet")
    import_files(db_url, files, code=False)
    engine = open_database(db_url)
    with Session(engine) as session:
        replies = session.execute(sa.text(
            "SELECT COUNT(*) FROM responses WHERE kind = 'reply'")).scalar()
        viewed = session.execute(sa.text("SELECT COUNT(*) FROM survey_responses")).scalar()
        queue = session.execute(sa.text("SELECT COUNT(*) FROM review_queue")).scalar()
    engine.dispose()
    assert replies == viewed
    assert queue is not None
