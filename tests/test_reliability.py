"""Reliability tables: per field, confidence bins with how many fields were right, and the
review flag's record; from a gold file (`eval`) and from reviewed records (`stats`, `report`).
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ldn_inbox import review
from ldn_inbox.codebook import MAIN_FIELDS
from ldn_inbox.serve.reliability import EDGES, Observation, format_tables, tabulate
from ldn_inbox.serve.summary import reviewed_reliability
from ldn_inbox.store.db import open_database, session_factory

ROOT = Path(__file__).resolve().parent.parent
REVIEW_FIXTURES = ROOT / "fixtures" / "emails" / "review"


def test_observations_fall_in_their_bins_and_the_flag_is_counted() -> None:
    tables = tabulate([
        Observation("ldn_use", 0.99, True, False),
        Observation("ldn_use", 0.99, False, False),
        Observation("ldn_use", 0.6, False, True),
        Observation("ldn_use", 0.6, True, True),
        Observation("ldn_use", None, True, True),
        Observation("experience", 0.85, True, False),
    ])
    use = tables["ldn_use"].as_dict()
    counts = {(b["from"], b["to"]): (b["count"], b["right"]) for b in use["bins"]}
    assert counts[(0.98, 1.0)] == (2, 1)
    assert counts[(0.5, 0.7)] == (2, 1)
    assert counts[(0.0, 0.5)] == (1, 1)  # no confidence: the lowest bin
    assert (use["unflagged"], use["unflagged_right"], use["flagged"], use["flagged_wrong"]) \
        == (2, 1, 3, 1)
    assert use["coverage"] == 0.4
    assert use["unflagged_precision"] == 0.5
    assert use["errors_caught"] == 0.5
    assert list(tables) == ["ldn_use", "experience"]
    text = "\n".join(format_tables(tables))
    assert "1/2" in text
    assert "1/2 errors caught" in text


def test_eval_prints_and_returns_the_tables(env: Path, runner: CliRunner,
                                            sqlite_url: str) -> None:
    from test_cli import invoke

    result = invoke(runner, "--db", sqlite_url, "eval", str(ROOT / "fixtures" / "emails"),
                    "--json")
    data = json.loads(result.stdout)
    tables = data["reliability"]
    assert set(MAIN_FIELDS) <= set(tables)
    for name in MAIN_FIELDS:
        table = tables[name]
        assert len(table["bins"]) == len(EDGES)
        assert sum(b["count"] for b in table["bins"]) == table["unflagged"] + table["flagged"]
    unflagged = sum(tables[n]["unflagged"] for n in MAIN_FIELDS)
    total = sum(tables[n]["unflagged"] + tables[n]["flagged"] for n in MAIN_FIELDS)
    assert round(unflagged / total, 4) == data["unflagged_coverage"]
    text = invoke(runner, "--db", sqlite_url, "eval", str(ROOT / "fixtures" / "emails"))
    assert "reliability per field" in text.stdout
    assert "errors caught" in text.stdout


def _imported(url: str, runner: CliRunner) -> None:
    from test_cli import invoke

    invoke(runner, "--db", url, "import", str(REVIEW_FIXTURES))


def test_reviewed_records_give_the_tables(env: Path, runner: CliRunner, db_url: str,
                                          tmp_path: Path) -> None:
    from test_cli import invoke

    _imported(db_url, runner)
    engine = open_database(db_url)
    sessions = session_factory(engine)
    with sessions() as session:
        assert reviewed_reliability(session) == {}
        review.accept(session, "review-01@example.org", reviewer="anne")
        before = reviewed_reliability(session)["prescriber"].as_dict()
        assert (before["unflagged"] + before["flagged"], before["errors_caught"]) == (1, None)
        coded = review.show(session, "review-03@example.net").field("experience").extracted
        other = "negative" if coded != "negative" else "positive"
        review.set_field(session, "review-03@example.net", "experience", other,
                         reviewer="anne")
        review.accept(session, "review-03@example.net", reviewer="anne")
        tables = reviewed_reliability(session)
    engine.dispose()
    experience = tables["experience"].as_dict()
    assert sum(b["count"] for b in experience["bins"]) == 2
    assert sum(b["right"] for b in experience["bins"]) == 1  # the corrected one is wrong
    prescriber = tables["prescriber"].as_dict()
    assert sum(b["right"] for b in prescriber["bins"]) == 2
    stats = invoke(runner, "--db", db_url, "stats")
    assert "How the coding held up in the reviewed replies" in stats.stdout
    assert "errors caught" in stats.stdout
    out = tmp_path / "report.html"
    invoke(runner, "--db", db_url, "report", "--output", str(out))
    page = out.read_text("utf-8")
    assert "How the coding held up" in page
    assert "<th>experience</th>" in page


def test_no_reviewed_records_say_so(env: Path, runner: CliRunner, sqlite_url: str) -> None:
    from test_cli import invoke

    _imported(sqlite_url, runner)
    stats = invoke(runner, "--db", sqlite_url, "stats")
    assert "no fields to judge" in stats.stdout
