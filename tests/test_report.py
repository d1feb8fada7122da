"""The publishable report: intervals, small-number rule, sentences, charts, print to PDF.

A synthetic survey of known codings is written into a real SQLite file (messages, codings,
corrections, reviews), so every figure on the page can be checked against a count made
here; the page and the charts are opened in a real headless Chromium.
"""

from __future__ import annotations

import random
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from analyst_data import REVIEWER
from conftest import IN_CI
from test_cli import invoke
from typer.testing import CliRunner

from ldn_inbox.codebook import FIELD_BY_NAME
from ldn_inbox.serve.article import ArticleTable, build, dose_band
from ldn_inbox.serve.charts import COLUMN_MM, DPI, TRACK, TRACK_X
from ldn_inbox.serve.proportions import (
    MIN_COUNT,
    MIN_GROUP,
    Share,
    hidden_cells,
    hidden_grid,
    in_tens,
    shares,
    wilson,
)
from ldn_inbox.serve.wording import WORDS
from ldn_inbox.store.db import open_database, session_factory
from ldn_inbox.store.models import Contact, Correction, Extraction, Message
from ldn_inbox.store.records import refresh_response

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def browser() -> None:
    """Chromium and pdftotext (Debian chromium, poppler-utils): skip here, fail in CI."""
    missing = [name for name in ("chromium", "pdftotext") if shutil.which(name) is None]
    if missing:
        reason = f"{', '.join(missing)} not installed (.ci/system-deps.sh installs them)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


# --------------------------------------------------------------------------- intervals
@pytest.mark.parametrize(("count", "base", "low", "high"), [
    # Newcombe (1998), Statistics in Medicine 17:857-872, table I, method 3 (Wilson score)
    pytest.param(81, 263, 0.2553, 0.3662, id="81-of-263"),
    pytest.param(15, 148, 0.0624, 0.1605, id="15-of-148"),
    pytest.param(0, 20, 0.0, 0.1611, id="0-of-20"),
    pytest.param(1, 29, 0.0061, 0.1718, id="1-of-29"),
])
def test_wilson_interval_known_values(count: int, base: int, low: float, high: float) -> None:
    got = wilson(count, base)
    assert (round(got[0], 4), round(got[1], 4)) == (low, high)
    # the interval of the complement is the mirror image
    mirror = wilson(base - count, base)
    assert mirror[0] == pytest.approx(1 - got[1])
    assert mirror[1] == pytest.approx(1 - got[0])


def test_wilson_edges() -> None:
    assert wilson(5, 5)[1] == 1.0
    assert wilson(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="outside"):
        wilson(6, 5)


@pytest.mark.parametrize(("value", "words"), [
    (0.58, (6, 10)), (0.142, (1, 10)), (0.03, (3, 100)), (0.96, (96, 100)), (1.0, (100, 100)),
])
def test_shares_in_words(value: float, words: tuple[int, int]) -> None:
    assert in_tens(value) == words


# --------------------------------------------------------------------------- small numbers
@pytest.mark.parametrize(("counts", "exclusive", "hidden"), [
    pytest.param([12, 3, 7, 0], True, [False, True, True, False], id="one-small-hides-next"),
    pytest.param([12, 3, 7, 0], False, [False, True, False, False], id="lists-no-subtraction"),
    pytest.param([12, 3, 4, 9], True, [False, True, True, False], id="two-small-enough"),
    pytest.param([20, 5, 0], True, [False, False, False], id="five-is-shown"),
    pytest.param([3, 0], True, [True, False], id="nothing-else-to-hide"),
])
def test_small_cells_are_hidden(counts: list[int], exclusive: bool,
                                hidden: list[bool]) -> None:
    assert hidden_cells(counts, exclusive=exclusive) == hidden


@pytest.mark.parametrize(("columns", "exclusive", "hidden"), [
    pytest.param([[20, 3], [15, 8]], False, [[False, True], [False, True]],
                 id="row-total-shown-elsewhere"),
    pytest.param([[20, 3], [15, 8]], True, [[True, True], [True, True]],
                 id="two-by-two-all-derivable"),
    pytest.param([[20, 30], [15, 8], [9, 9]], True, [[False] * 2] * 3, id="nothing-small"),
    pytest.param([[2, 1], [15, 8]], True, [[True, True], [True, True]], id="small-group"),
])
def test_cross_table_hiding(columns: list[list[int]], exclusive: bool,
                            hidden: list[list[bool]]) -> None:
    assert hidden_grid(columns, [sum(c) for c in columns], exclusive=exclusive) == hidden


def _derivable(table: ArticleTable, exclusive: bool) -> list[str]:
    """Hidden cells that subtraction would reveal: alone in their row (row totals are
    shown elsewhere), or alone in a single-answer column."""
    found = []
    for row, name in enumerate(table.categories):
        cells = [g.cells[row] for g in table.groups]
        if len(cells) > 1 and sum(c.hidden for c in cells) == 1 \
                and any(not c.hidden and c.count for c in cells):
            found.append(f"row {name}")
    for group in table.groups:
        if exclusive and sum(c.hidden for c in group.cells) == 1 \
                and any(not c.hidden and c.count for c in group.cells):
            found.append(f"group {group.label}")
    return found


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_no_hidden_count_can_be_worked_out(seed: int) -> None:
    tables = build(_synthetic_rows(90, seed=seed), "en")
    hidden = 0
    for table in tables:
        exclusive = table.key.startswith("experience")
        assert not _derivable(table, exclusive), table.key
        hidden += sum(c.hidden for g in table.groups for c in g.cells)
        for group in table.groups:
            assert all(c.count >= MIN_COUNT or c.count == 0 or c.hidden for c in group.cells)
    assert hidden, "a survey this small has small cells"


def test_small_base_hides_every_count() -> None:
    cells = shares([2, 1, 0], 3, exclusive=True)
    assert [c.hidden for c in cells] == [True, True, False]
    assert cells[0].percent() == "<5"
    assert cells[0].interval_text() == ""
    held = hidden_grid([[20, 3], [15, 8]], [23, 23], exclusive=False)
    assert Share(8, 23, hidden=held[1][1]).percent() == "×", "held back, not 'under 5'"


def _row(**values: Any) -> dict[str, Any]:
    base = {"ldn_use": "current", "prescriber": "gp", "prescriber_specialty": None,
            "experience": "positive", "side_effects": "no", "dose_mg": 4.5, "benefits": "pain",
            "side_effect_codes": ""}
    return {**base, **values}


def test_small_groups_are_merged() -> None:
    rows = ([_row(prescriber="specialist", prescriber_specialty="rheumatology")] * 30
            + [_row(prescriber="specialist", prescriber_specialty="neurology")] * 4
            + [_row(prescriber="specialist", prescriber_specialty="psychiatry",
                    experience="negative")] * 3)
    table = _table(build(rows, "en"), "experience_by_specialty")
    labels = [g.label for g in table.groups]
    assert labels == ["rheumatology", "other (smaller groups): neurology, psychiatry"]
    assert [g.n for g in table.groups] == [30, 7]
    merged = table.groups[1]
    negative = table.categories.index("negative")
    assert merged.cells[negative].hidden, "3 of 7 is a small count"
    assert all(g.n >= MIN_GROUP or "other" in g.label for g in table.groups)


def _table(tables: list[ArticleTable], key: str) -> ArticleTable:
    return next(t for t in tables if t.key == key)


# --------------------------------------------------------------------------- sentences
def _synthetic_rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        use = rng.choices(["current", "past", "never", "unknown"], [60, 25, 10, 5])[0]
        user = use in ("current", "past")
        prescriber = rng.choices(["gp", "specialist", "other", "unknown"], [40, 40, 8, 12])[0]
        effects = rng.sample(FIELD_BY_NAME["side_effect_codes"].codes, rng.randint(0, 2))
        rows.append({
            "ldn_use": use,
            "prescriber": prescriber if user else None,
            "prescriber_specialty": (rng.choice(["rheumatology", "physical_medicine",
                                                 "pain_medicine", "neurology"])
                                     if user and prescriber == "specialist" else None),
            "experience": rng.choices(["positive", "mixed", "no_effect", "negative",
                                       "unknown"], [50, 15, 20, 8, 7])[0] if user else None,
            "side_effects": ("yes" if effects else rng.choice(["no", "unknown"]))
            if user else None,
            "side_effect_codes": ";".join(effects) if user else "",
            "benefits": ";".join(rng.sample(FIELD_BY_NAME["benefits"].codes,
                                            rng.randint(0, 3))) if user else "",
            "dose_mg": rng.choice([None, 1.5, 2.0, 3.0, 4.5, 4.5, 6.0]) if user else None,
        })
    return rows


def _numbers(sentence: str, group: str, lang: str) -> list[int]:
    """The numbers a sentence states, in order (its group label and the '95' of the
    interval's name left out)."""
    text = sentence[len(group) + 1:] if group else sentence
    return [int(x) for x in re.findall(r"\d+", text.replace(WORDS[lang]["ci"], ""))]


@pytest.mark.parametrize("lang", ["nl", "fr", "en"])
def test_sentences_state_the_tables_figures(lang: str) -> None:
    tables = build(_synthetic_rows(400, seed=3), lang)
    stated = 0
    for table in tables:
        assert table.paragraph().endswith(WORDS[lang]["caveat"])
        for group in table.groups:
            index = table.headline
            if index is None:  # the largest shown category
                shown = [i for i, c in enumerate(group.cells) if not c.hidden and c.count]
                index = max(shown, key=lambda i: group.cells[i].count)
            cell = group.cells[index]
            if cell.hidden:
                assert "held back" in group.sentence or "niet getoond" in group.sentence \
                    or "pas affiché" in group.sentence
                assert not re.search(r"\d+ ?%", group.sentence)
                continue
            assert table.categories[index] in group.sentence, (table.key, group.label)
            *words, n, pct, low, high = _numbers(group.sentence, group.label, lang)
            assert n == group.n == cell.base, (table.key, group.label)
            assert pct == round(100 * cell.value)
            assert (low, high) == tuple(round(100 * v) for v in cell.interval)
            if words:  # "about k in d"; "all n" and "none of the n" say it exactly
                k, d = words
                assert abs(k / d - cell.value) <= 0.05 + 1e-9, "'about k in d' is near"
            else:
                assert cell.count in (0, cell.base)
            stated += 1
    assert stated >= 12


def test_sentence_for_a_small_group_gives_no_share() -> None:
    tables = build([_row(ldn_use="past")] * 3 + [_row()] * 20, "en")
    stopping = _table(tables, "stopping")
    past = next(g for g in stopping.groups if "Stopped" in g.label)
    assert past.n == 3
    assert "fewer than 5" in past.sentence
    assert not re.search(r"\d+%", past.sentence)
    # the one-way table shows 23 positive: the 20 of the current users would give away
    # the past users' 3, so it is held back too, and the sentence says so
    current = next(g for g in stopping.groups if "Still using" in g.label)
    assert current.cells[stopping.categories.index("had a positive experience")].hidden
    assert current.sentence == ("Still using (current users): the figure for “had a positive "
                                "experience” is held back to protect small numbers."), \
        current.sentence
    alone = _table(build([_row()] * 20, "en"), "stopping").groups[0]
    assert alone.sentence.startswith("Still using (current users): all 20 users had a "
                                     "positive experience (100%;"), alone.sentence


def test_dose_bands() -> None:
    assert [dose_band({"dose_mg": d}) for d in (None, 0.5, 1.5, 1.75, 3, 4.5, 4.6)] == [
        "dose_none", "dose_le_1_5", "dose_le_1_5", "dose_1_5_3", "dose_1_5_3", "dose_3_4_5",
        "dose_gt_4_5"]


# --------------------------------------------------------------------------- a database
def _survey(url: str, n: int = 180) -> None:
    """``n`` replies of known coding from distinct senders; every third reviewed (every
    sixth reviewed one with its experience corrected), every fourth flagged."""
    engine = open_database(url)
    rows = _synthetic_rows(n, seed=11)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    with session_factory(engine)() as session:
        for i, row in enumerate(rows):
            contact = Contact(respondent_id=f"{i:032x}", address=f"p{i}@example.org")
            message = Message(message_id=f"m{i}@survey.test", respondent_id=contact.respondent_id,
                              received_at=start + timedelta(hours=i), own_text="...")
            session.add_all([contact, message])
            session.flush()
            values = {**row, "kind": "reply", "language": "nl",
                      "benefits": [c for c in row["benefits"].split(";") if c],
                      "side_effect_codes": [c for c in row["side_effect_codes"].split(";")
                                            if c]}
            flagged = ["experience"] if i % 4 == 0 and row["experience"] else []
            session.add(Extraction(message_pk=message.id, extractor_version="test",
                                   values=values, confidence={"experience": 0.6},
                                   evidence={}, review_fields=flagged))
            if i % 3 == 0:
                if i % 6 == 0 and row["experience"] not in (None, "negative"):
                    session.add(Correction(message_pk=message.id, field="experience",
                                           value={"v": "negative"}, reviewer=REVIEWER,
                                           extracted_value={"v": row["experience"]}))
                message.reviewed_at = start
                message.reviewed_by = REVIEWER
            session.flush()
            refresh_response(session, message)
        session.commit()
    engine.dispose()


@pytest.fixture(scope="module")
def survey(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('survey') / 'survey.sqlite'}"
    _survey(url)
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def any_survey(request: pytest.FixtureRequest, survey: str) -> str:
    """The survey on SQLite, then the same on PostgreSQL (the views' SQL differs)."""
    if request.param == "sqlite":
        return survey
    url = str(request.getfixturevalue("postgres").create_database("report_survey"))
    _survey(url)
    return url


def _count(url: str, sql: str) -> int:
    engine = open_database(url, migrate=False)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(sql)).scalar() or 0)
    finally:
        engine.dispose()


def _report(runner: CliRunner, url: str, out: Path, *args: str) -> str:
    result = invoke(runner, "--db", url, "report", "-o", str(out), *args)
    assert "report written" in result.stderr
    return out.read_text("utf-8")


def _visible(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


@pytest.mark.parametrize(("records", "where"), [
    ("all", "1 = 1"), ("reviewed", "reviewed = 1"), ("unflagged", "needs_review = 0")],
    ids=["all", "reviewed", "unflagged"])
def test_records_counted_are_named(env: Path, runner: CliRunner, any_survey: str,
                                   tmp_path: Path, records: str, where: str) -> None:
    survey = any_survey
    page = _report(runner, survey, tmp_path / "r.html", "--records", records)
    total = _count(survey, "SELECT COUNT(*) FROM respondents")
    kept = _count(survey, f"SELECT COUNT(*) FROM respondents WHERE {where}")
    words = WORDS["en"]
    line = words["records_line"].format(which=words[f"records_{records}"], kept=kept,
                                        total=total, unit="respondents", left=total - kept)
    assert line in _visible(page)
    stats = invoke(runner, "--db", survey, "stats", "--records", records)
    assert line in stats.stdout, "stats counts the same records"
    if records != "all":
        assert kept < total, "the synthetic survey leaves some out"
    users = _count(survey, f"SELECT COUNT(*) FROM respondents WHERE {where} AND ldn_use IN "
                           "('current', 'past') AND experience IN ('positive', 'mixed', "
                           "'no_effect', 'negative')")
    assert f"of the {users} users who described their experience" in _visible(page)


@pytest.mark.parametrize("option", [("--records", "checked"), ("--lang", "de")],
                         ids=["records", "lang"])
def test_wrong_choice_is_a_usage_error(env: Path, runner: CliRunner, survey: str,
                                       tmp_path: Path, option: tuple[str, str]) -> None:
    result = invoke(runner, "--db", survey, "report", "-o", str(tmp_path / "r.html"),
                    *option, code=2)
    assert f"{option[0]} must be one of" in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_page_never_shows_a_count_under_five(env: Path, runner: CliRunner, survey: str,
                                             tmp_path: Path) -> None:
    page = _report(runner, survey, tmp_path / "r.html", "--records", "reviewed")
    counts = [int(c) for c in re.findall(r'<td class="n">(\d+)</td>', page)]
    assert counts, "the tables have count cells"
    assert not [c for c in counts if 0 < c < MIN_COUNT]
    assert '<td class="n" colspan="3">&lt;5</td>' in page, "small cells in a subset this small"
    assert '<td class="n" colspan="3">×</td>' in page, "and cells held back to protect them"


def test_reliability_per_field(env: Path, runner: CliRunner, survey: str,
                               tmp_path: Path) -> None:
    page = _report(runner, survey, tmp_path / "r.html")
    replies = _count(survey, "SELECT COUNT(*) FROM survey_responses")
    flagged = sum(1 for i in range(replies) if i % 4 == 0
                  and _synthetic_rows(replies, seed=11)[i]["experience"])
    reviewed = _count(survey, "SELECT COUNT(*) FROM survey_responses WHERE reviewed = 1")
    corrected = _count(survey, "SELECT COUNT(*) FROM corrections WHERE field = 'experience'")
    row = re.search(r"<tr><th>Experience</th>(.*?)</tr>", page)
    assert row, "a row for the experience field"
    assert f"{flagged}/{replies} ({flagged / replies:.0%})" in row.group(1)
    assert f"{corrected}/{reviewed} ({corrected / reviewed:.0%})" in row.group(1)
    assert "What these figures can and cannot say" in page


def _svg_bars(svg: ET.Element) -> list[float]:
    return [float(r.get("width", "nan")) for r in svg.iter(f"{SVG}rect")
            if r.get("class") == "bar"]


def test_bars_share_one_scale(env: Path, runner: CliRunner, survey: str,
                              tmp_path: Path) -> None:
    """Issue 16: 34 of 40 and 19 of 34 must not both look full: every track is the same
    0-100% and a bar's width is its share of it."""
    page = _report(runner, survey, tmp_path / "r.html")
    svgs = [ET.fromstring(m) for m in re.findall(r"<svg .*?</svg>", page, re.DOTALL)]
    tracks = {(r.get("x"), r.get("width")) for s in svgs for r in s.iter(f"{SVG}rect")
              if r.get("class") == "track"}
    assert tracks == {(str(TRACK_X), str(TRACK))}
    use = next(s for s in svgs if s.get("data-key") == "ldn_use")
    base = _count(survey, "SELECT COUNT(*) FROM respondents")
    expected = [TRACK * _count(survey, f"SELECT COUNT(*) FROM respondents WHERE ldn_use = "
                                       f"'{code}'") / base
                for code in FIELD_BY_NAME["ldn_use"].codes]
    assert _svg_bars(use) == pytest.approx([w for w in expected if w >= 5 / base * TRACK],
                                           abs=0.01)
    assert max(_svg_bars(use)) < TRACK * 0.9, "the largest share is not drawn full"


# --------------------------------------------------------------------------- charts, browser
def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, position = [], 8
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        chunks.append((data[position + 4:position + 8], data[position + 8:position + 8 + length]))
        position += 12 + length
    return chunks


@pytest.mark.usefixtures("browser")
@pytest.mark.parametrize("lang", ["fr"])
def test_charts_as_svg_and_png(env: Path, runner: CliRunner, survey: str, tmp_path: Path,
                               lang: str) -> None:
    from ldn_inbox.serve.htmlreport import charts
    from ldn_inbox.serve.summary import collect

    folder = tmp_path / "charts"
    result = invoke(runner, "--db", survey, "report", "-o", str(tmp_path / "r.html"),
                    "--lang", lang, "--charts", str(folder))
    assert "chart files written" in result.stderr
    engine = open_database(survey)
    with session_factory(engine)() as session:
        expected = charts(collect(session, lang=lang))
    engine.dispose()
    svgs = sorted(folder.glob("*.svg"))
    pngs = sorted(folder.glob("*.png"))
    assert len(svgs) == len(pngs) == len(expected)
    width_px = round(COLUMN_MM / 25.4 * DPI)
    for chart, svg_path, png_path in zip(expected, svgs, pngs, strict=True):
        root = ET.parse(svg_path).getroot()
        assert root.get("width") == f"{COLUMN_MM}mm"
        texts = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
        for label in chart.labels()[1:]:
            assert label in texts, (svg_path.name, label)
        assert chart.title in " ".join(texts) or len(chart.title) > 62
        chunks = dict(_png_chunks(png_path.read_bytes()))
        width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
        assert width == width_px, png_path.name
        assert height > 100
        assert struct.unpack(">IIB", chunks[b"pHYs"]) == (round(DPI / 0.0254),) * 2 + (1,)
        text = b"".join(v for k, v in _png_chunks(png_path.read_bytes()) if k == b"iTXt")
        for label in chart.labels():
            assert label.encode() in text, (png_path.name, label)
        pixels = zlib.decompress(b"".join(v for k, v in _png_chunks(png_path.read_bytes())
                                          if k == b"IDAT"))
        assert len(set(pixels)) > 20, "drawn, not blank"
    assert any("Expérience" in c.title for c in expected)


@pytest.mark.usefixtures("browser")
def test_page_prints_to_pdf_with_its_tables(env: Path, runner: CliRunner, survey: str,
                                            tmp_path: Path) -> None:
    from ldn_inbox.serve.browser import print_pdf

    page = tmp_path / "verslag.html"
    _report(runner, survey, page, "--lang", "nl")
    pdf = tmp_path / "verslag.pdf"
    print_pdf(page, pdf)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    flat = re.sub(r"\s+", " ", text)
    pages = text.count("\f")
    assert pages >= 4, "printed on several pages"
    words = WORDS["nl"]
    for key in ("experience", "experience_by_prescriber", "experience_by_specialty",
                "side_effects_by_dose", "stopping", "benefits_positive"):
        assert words[f"t_{key}"] in flat, key
    assert "Hoe betrouwbaar de codering is, per veld" in flat
    users = _count(survey, "SELECT COUNT(*) FROM respondents WHERE ldn_use IN ('current', "
                           "'past') AND experience IN ('positive', 'mixed', 'no_effect', "
                           "'negative')")
    assert f"van de {users} gebruikers die hun ervaring beschreven" in flat
    positive = _count(survey, "SELECT COUNT(*) FROM respondents WHERE ldn_use IN "
                              "('current', 'past') AND experience = 'positive'")
    share = Share(positive, users)
    row = re.search(r"positief +(\d+) +(\d+)% +(\d+)–(\d+)%", text)
    assert row, "the experience table's first row"
    assert [int(x) for x in row.groups()] == [
        positive, round(100 * share.value), *(round(100 * v) for v in share.interval)]
