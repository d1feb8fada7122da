"""The review screen with several volunteers and in their language, through Textual's pilot
at 80x24 and 120x40: claims, versions, changes made elsewhere, no-op writes, record
numbers, tick glyphs, conflicts first and the key that takes the newer coding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_review import CODER_V2, M1, M2, build, fake_coder
from test_review_tui import ROW, choose
from test_review_tui import run as play_review
from typer.testing import CliRunner

from ldn_inbox import review
from ldn_inbox.flow.pipeline import Settings
from ldn_inbox.flow.reparse import reparse, select_messages
from ldn_inbox.review.tui import (
    TICKED,
    ListPicker,
    Position,
    ReviewApp,
    ReviewScreen,
    TickList,
    ValuePicker,
    field_label,
    value_label,
)
from ldn_inbox.store.db import open_database, session_factory

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
Scenario = Callable[[Any, ReviewScreen], Awaitable[None]]


@pytest.fixture
def db(env: Path, runner: CliRunner, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    build(runner, sqlite_url, monkeypatch)
    return sqlite_url


def app_for(engine: sa.Engine, reviewer: str, **kwargs: Any) -> ReviewApp:
    return ReviewApp(session_factory(engine), reviewer, Position(), **kwargs)


def run(db_url: str, size: tuple[int, int], scenario: Scenario, *, reviewer: str = "anne",
        position: Position | None = None, **kwargs: Any) -> None:
    play_review(db_url, position or Position(), scenario, size=size, reviewer=reviewer,
                **kwargs)


def as_bert(db_url: str, action: Callable[[Any], Any]) -> Any:
    """A second volunteer acting on the same database meanwhile."""
    engine = open_database(db_url)
    try:
        with session_factory(engine)() as session:
            return action(session)
    finally:
        engine.dispose()


def audit_rows(db_url: str) -> int:
    engine = open_database(db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(
                "SELECT COUNT(*) FROM audit_log WHERE action <> 'recode'")).scalar_one())
    finally:
        engine.dispose()


def screen_text(screen: ReviewScreen) -> str:
    return str(screen.query_one("#title").render())


# --------------------------------------------------------------------------- several volunteers
@pytest.mark.parametrize("size", SIZES)
def test_two_screens_show_different_records(db: str, size: tuple[int, int]) -> None:
    engine = open_database(db)
    seen: dict[str, str | None] = {}

    async def play() -> None:
        anne, bert = app_for(engine, "anne"), app_for(engine, "bert")
        async with anne.run_test(size=size) as pilot_a:
            await pilot_a.pause()
            seen["anne"] = anne.review_screen.position.current
            async with bert.run_test(size=size) as pilot_b:
                await pilot_b.pause()
                seen["bert"] = bert.review_screen.position.current
                # anne moves on: her record is free again, bert's stays his
                await pilot_a.press("s")
                seen["anne next"] = anne.review_screen.position.current

    try:
        asyncio.run(play())
    finally:
        engine.dispose()
    assert seen["anne"] == M2, "the top of the queue"
    assert seen["bert"] not in (None, seen["anne"]), seen
    assert seen["anne next"] not in (seen["anne"], seen["bert"]), seen
    assert as_bert(db, lambda s: review.claimed_by_others(s, "carla")) == set(), \
        "claims end with the screen"


def test_a_claim_expires(db: str) -> None:
    as_bert(db, lambda s: review.claim(s, M2, "bert", minutes=-1))
    assert as_bert(db, lambda s: review.claim(s, M2, "anne")) is None
    assert as_bert(db, lambda s: review.claim(s, M2, "bert")) == "anne"


@pytest.mark.parametrize("size", SIZES)
def test_accept_is_refused_when_the_record_changed(db: str, size: tuple[int, int]) -> None:
    """Bert changes the experience of the record on Anne's screen; Anne's accept is not
    recorded for values she never saw: refused, with what changed, and the screen shows
    the record as it is now."""
    async def scenario(pilot: Any, screen: ReviewScreen) -> None:
        assert screen.view is not None
        record = screen.view.record
        as_bert(db, lambda s: review.set_field(s, M2, "experience", "positive",
                                               reviewer="bert"))
        await pilot.press("a")
        status = screen.status_text.plain
        assert f"not saved: #{record} changed since it was shown" in status
        assert f"{field_label('experience', 'en')} " in status
        assert f"→ {value_label('experience', 'positive', 'en')} (by bert)" in status
        assert screen.view.field("experience").effective == "positive"
        assert screen.view.reviewed_by is None
        await pilot.press("a")  # now Anne has seen it
        assert as_bert(db, lambda s: review.show(s, M2)).reviewed_by == "anne"

    run(db, size, scenario)


def test_a_change_is_refused_when_the_record_changed(db: str) -> None:
    async def scenario(pilot: Any, screen: ReviewScreen) -> None:
        as_bert(db, lambda s: review.set_field(s, M2, "kind", "not_survey", reviewer="bert"))
        await choose(pilot, screen, "experience")
        await pilot.press("enter")
        assert isinstance(screen.app.screen, ValuePicker)
        await pilot.press("down", "enter")
        assert "changed since it was shown" in screen.status_text.plain
        assert as_bert(db, lambda s: review.show(s, M2)).field("experience").corrected_by \
            != "anne"

    run(db, (80, 24), scenario)


def test_the_screen_follows_changes_made_elsewhere(db: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ReviewScreen, "FOLLOW_S", 0.05)

    async def scenario(pilot: Any, screen: ReviewScreen) -> None:
        as_bert(db, lambda s: review.set_field(s, M2, "ldn_use", "current", reviewer="bert"))
        await pilot.pause(0.3)
        assert screen.view is not None
        assert screen.view.field("ldn_use").effective == "current"
        assert "changed elsewhere" in screen.status_text.plain

    run(db, (80, 24), scenario)


# --------------------------------------------------------------------------- what the screen says
@pytest.mark.parametrize("size", SIZES)
def test_enter_on_the_current_value_writes_nothing(db: str, size: tuple[int, int]) -> None:
    before = audit_rows(db)

    async def scenario(pilot: Any, screen: ReviewScreen) -> None:
        await choose(pilot, screen, "kind")
        await pilot.press("enter")
        assert isinstance(screen.app.screen, ValuePicker)
        await pilot.press("enter")  # the picker opens on the current value
        assert "unchanged: nothing saved" in screen.status_text.plain
        assert screen.view is not None
        assert not screen.view.field("kind").corrected, "shown as confirmed"

    run(db, size, scenario)
    assert audit_rows(db) == before


def test_set_of_the_same_value_is_no_audit_row(db: str, runner: CliRunner) -> None:
    from test_review import invoke

    before = audit_rows(db)
    result = invoke(runner, db, "review", "set", M2, "kind", "reply")
    assert "nothing changed" in result.stdout
    assert audit_rows(db) == before


@pytest.mark.parametrize("size", SIZES)
def test_ticked_and_unticked_boxes_differ_in_shape(db: str, size: tuple[int, int]) -> None:
    async def scenario(pilot: Any, screen: ReviewScreen) -> None:
        await choose(pilot, screen, "benefits")
        await pilot.press("enter")
        picker = screen.app.screen
        assert isinstance(picker, ListPicker)
        boxes = picker.query_one(TickList)
        lines = [boxes.render_line(y).text for y in range(len(boxes.options))]
        ticked = [line for line in lines if line[1] == TICKED]
        assert len(ticked) == len(boxes.selected) == 2, lines  # M1: pain, sleep
        assert all(line[1] == " " for line in lines if line not in ticked)
        assert not any(line[1] == "X" for line in lines)

    run(db, size, scenario, position=Position(current=M1))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_labels_in_the_volunteers_language_and_record_numbers(
        db: str, size: tuple[int, int], lang: str) -> None:
    async def scenario(pilot: Any, screen: ReviewScreen) -> None:
        assert screen.view is not None
        title = screen_text(screen)
        assert f"#{screen.view.record}" in title
        assert M2 not in title, "a Message-ID in the top bar"
        rows = [str(screen.query_one("#fields").get_option_at_index(i).prompt)
                for i in range(len(ROW))]
        spec_label = field_label("prescriber", lang)
        assert rows[ROW["prescriber"]].strip("?!✎✓ ").startswith(spec_label[:19])
        assert value_label("prescriber", "gp", lang) in rows[ROW["prescriber"]]
        other = "Voorschrijver" if lang == "en" else "Prescriber"
        assert other not in "".join(rows)
        svg = screen.app.export_screenshot()
        assert M2 not in svg

    run(db, size, scenario, lang=lang)


def test_conflicts_come_first_and_t_takes_the_newer_coding(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = open_database(db)
    sessions = session_factory(engine)
    with sessions() as session:
        review.set_field(session, M1, "ldn_use", "past", reviewer="anne")
    with sessions() as session:
        pks = select_messages(session, idents=[M1])
    monkeypatch.setattr("ldn_inbox.extract.coding.code", fake_coder(CODER_V2, "2.0.0"))
    reparse(sessions, pks, Settings(pseudonym_key=b"k" * 32), reviewer="anne")
    engine.dispose()

    async def scenario(pilot: Any, screen: ReviewScreen) -> None:
        assert screen.view is not None
        assert screen.view.message_id == M1, "the conflict, not where anne stopped"
        assert screen.query_one("#fields").highlighted == ROW["ldn_use"]
        await pilot.press("t")
        assert screen.view.field("ldn_use").effective == CODER_V2[M1]["ldn_use"]
        assert not screen.view.field("ldn_use").conflict
        await pilot.press("t")
        assert "no newer coding disagrees" in screen.status_text.plain

    run(db, (80, 24), scenario, position=Position(current=M2))


def test_show_gives_the_record_number_and_version(db: str, runner: CliRunner) -> None:
    import json

    from test_review import invoke

    data = json.loads(invoke(runner, db, "review", "show", M1, "--format", "json").stdout)
    again = json.loads(invoke(runner, db, "review", "show", f"#{data['record']}",
                              "--format", "json").stdout)
    assert again["message_id"] == M1
    assert again["version"] == data["version"]
    invoke(runner, db, "review", "set", M1, "experience", "mixed")
    changed = json.loads(invoke(runner, db, "review", "show", M1, "--format", "json").stdout)
    assert changed["version"] != data["version"]


@pytest.mark.parametrize("size", SIZES)
def test_long_reasons_wrap_and_the_evidence_shows_while_picking(db: str,
                                                               size: tuple[int, int]) -> None:
    """A refused change's reason is shown whole at 80 columns (it used to be cut after
    "prescriber_specialty: a"), and the message with its evidence stays on screen while a
    value is picked (the picker lies over the field list)."""
    from textual.containers import Vertical

    async def scenario(pilot: Any, screen: ReviewScreen) -> None:
        await choose(pilot, screen, "prescriber")
        await pilot.press("enter")
        await pilot.pause()
        detail = screen.query_one("#detail")
        assert "« De reumatoloog »" in str(detail.render())
        dialog = screen.app.screen.query_one(Vertical).region
        assert not dialog.overlaps(detail.region), "the picker hides the evidence"
        assert not dialog.overlaps(screen.query_one("#text").region), "it hides the message"
        await pilot.press("escape", "s")
        assert screen.view is not None
        assert screen.view.message_id == M2, "a GP's record: a specialty breaks a rule"
        await choose(pilot, screen, "prescriber_specialty")
        await pilot.press("enter", "home", "down", "down", "enter")
        await pilot.pause()
        status = screen.query_one("#status")
        reason = screen.status_text.plain
        assert "set prescriber to specialist first" in reason
        room = status.size.width - 2  # its padding
        assert status.size.height >= min(3, -(-len(reason) // room)), (status.size, reason)

    run(db, size, scenario, position=Position(current=M1))
