"""The review screen driven end to end with textual's pilot at 80x24, keyboard only.

``LDN_INBOX_SCREENSHOTS=1`` also writes the screenshots of docs/review.md (docs/review-*.svg).
"""

from __future__ import annotations

import asyncio
import html
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from test_review import CODER_V2, M1, M2, M3, M4, build, fake_coder
from typer.testing import CliRunner

from ldn_inbox import review
from ldn_inbox.flow.pipeline import Settings
from ldn_inbox.flow.reparse import reparse, select_messages
from ldn_inbox.review.tui import (
    STYLE_EVIDENCE,
    STYLE_EVIDENCE_SELECTED,
    HelpScreen,
    ListPicker,
    Position,
    ReviewApp,
    ReviewScreen,
    TextPrompt,
    ValuePicker,
    field_label,
    value_label,
)
from ldn_inbox.store.db import open_database, session_factory

DOCS = Path(__file__).resolve().parent.parent / "docs"
#: Read at import: the ``env`` fixture clears LDN_INBOX_* variables before each test.
WRITE_DOCS = bool(os.environ.get("LDN_INBOX_SCREENSHOTS"))
#: Field rows in the screen, top to bottom (codebook order).
ROW = {name: index for index, name in enumerate(review.CODED_FIELDS)}

Scenario = Callable[[Any, ReviewScreen], Awaitable[None]]


def run(db_url: str, position: Position, scenario: Scenario, *,
        size: tuple[int, int] = (80, 24), reviewer: str = "anne", **options: Any) -> None:
    """Open the review screen on ``db_url`` as ``reviewer`` at ``size`` and play
    ``scenario`` on it."""
    engine = open_database(db_url)

    async def play() -> None:
        app = ReviewApp(session_factory(engine), reviewer, position, **options)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await scenario(pilot, app.review_screen)

    try:
        asyncio.run(play())
    finally:
        engine.dispose()


def view(db_url: str, message_id: str) -> review.MessageView:
    engine = open_database(db_url)
    try:
        with session_factory(engine)() as session:
            return review.show(session, message_id)
    finally:
        engine.dispose()


def title(screen: ReviewScreen) -> str:
    return screen.view.message_id if screen.view else ""


async def choose(pilot: Any, screen: ReviewScreen, field: str) -> None:
    """Move the field cursor to ``field`` with the arrow keys."""
    current = screen.query_one("#fields").highlighted or 0
    key = "down" if ROW[field] > current else "up"
    await pilot.press(*[key] * abs(ROW[field] - current))


async def type_text(pilot: Any, text: str) -> None:
    await pilot.press(*["space" if ch == " " else ch for ch in text])


@pytest.fixture
def db(env: Path, runner: CliRunner, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    build(runner, sqlite_url, monkeypatch)
    return sqlite_url


def test_change_undo_accept_quit_and_resume(db: str, tmp_path: Path) -> None:
    saved = tmp_path / "position.json"

    async def first_session(pilot: Any, screen: ReviewScreen) -> None:
        assert title(screen) == M2, "the lowest-confidence flagged record comes first"
        await pilot.press("s")
        assert title(screen) == M1
        # change the prescriber by picking from the codebook's values
        await choose(pilot, screen, "prescriber")
        await pilot.press("enter")
        assert isinstance(screen.app.screen, ValuePicker)
        await pilot.press("up", "enter")  # specialist -> gp
        said = (f"{field_label('prescriber', 'en')}: "
                f"{value_label('prescriber', 'specialist', 'en')} → "
                f"{value_label('prescriber', 'gp', 'en')}")
        assert said in screen.status_text.plain, "labels, not codes, in the status line"
        changed = view(db, M1)
        assert changed.field("prescriber").human == "gp"
        assert changed.field("prescriber_specialty").effective is None
        await pilot.press("u")
        assert "undone" in screen.status_text.plain
        assert not view(db, M1).field("prescriber").corrected
        # a list field: space ticks, Enter saves
        await choose(pilot, screen, "benefits")
        await pilot.press("enter")
        assert isinstance(screen.app.screen, ListPicker)
        await pilot.press("space", "enter")  # untick pain
        assert view(db, M1).field("benefits").effective == ["sleep"]
        # the dose is typed
        await choose(pilot, screen, "dose_mg")
        await pilot.press("c")
        assert isinstance(screen.app.screen, TextPrompt)
        await pilot.press("backspace", "backspace", "backspace", "3", "enter")
        assert view(db, M1).field("dose_mg").effective == 3.0
        await pilot.press("n")
        await type_text(pilot, "belt terug")
        await pilot.press("enter")
        assert [n.text for n in view(db, M1).notes] == ["belt terug"]
        await pilot.press("a")
        accepted = view(db, M1)
        assert accepted.reviewed_by == "anne"
        assert title(screen) == M3, "after accepting, the next record opens"
        await pilot.press("q")

    run(db, Position.load(saved), first_session)
    assert saved.is_file()

    async def second_session(pilot: Any, screen: ReviewScreen) -> None:
        assert title(screen) == M3, "it resumes where it stopped"
        await pilot.press("s")
        assert title(screen) == M4
        await pilot.press("s")
        assert title(screen) == M2, "skipped records come back after the others"
        await pilot.press("b")
        assert title(screen) == M4
        await pilot.press("a", "a", "a")  # M4, then the skipped M2 and M3
        assert screen.view is None
        assert "Nothing left to review" in screen.message_text.plain
        await pilot.press("a")
        assert "nothing to review" in screen.status_text.plain
        await pilot.press("q")

    run(db, Position.load(saved), second_session)
    assert view(db, M3).reviewed_by == "anne"


def test_rules_are_explained_and_undo_reverts_an_accept(db: str) -> None:
    async def scenario(pilot: Any, screen: ReviewScreen) -> None:
        assert title(screen) == M2
        await choose(pilot, screen, "prescriber_specialty")
        await pilot.press("enter", "home", "down", "down", "enter")  # pick neurology
        assert "set prescriber to specialist first" in screen.status_text.plain
        assert not view(db, M2).field("prescriber_specialty").corrected
        await pilot.press("escape")  # nothing open: harmless
        await pilot.press("enter", "escape")
        assert "not changed" in screen.status_text.plain
        await pilot.press("a")
        assert view(db, M2).reviewed_by == "anne"
        await pilot.press("b", "u")
        assert view(db, M2).reviewed_by is None
        await pilot.press("?")
        assert isinstance(screen.app.screen, HelpScreen)
        await pilot.press("escape")
        assert screen.app.screen is screen

    run(db, Position(), scenario)


def test_text_is_shown_literally_with_evidence_and_folded_quote(db: str) -> None:
    async def markup(pilot: Any, screen: ReviewScreen) -> None:
        plain = screen.message_text.plain
        assert "<b>pas d'effets</b>" in plain
        assert "[bold]non plus[/bold]" in plain
        svg = screen.app.export_screenshot()
        assert "[bold]non" in svg, "markup in a message must not be interpreted"
        assert "&lt;b&gt;pas" in svg

    run(db, Position(current=M3), markup)

    async def context(pilot: Any, screen: ReviewScreen) -> None:
        assert title(screen) == M1
        plain = screen.message_text.plain
        assert "quoted part folded" in plain
        assert "Gebruikt U Naltrexone" not in plain
        assert "other messages from this sender (1)" in plain
        assert "Ik vergat iets" in plain
        start = plain.index("De reumatoloog")

        def styles() -> set[str]:
            return {str(span.style) for span in screen.message_text.spans
                    if span.start <= start < span.end}

        # the record opens on its flagged field, whose evidence stands out
        assert screen.query_one("#fields").highlighted == ROW["prescriber"]
        assert STYLE_EVIDENCE_SELECTED in styles()
        await choose(pilot, screen, "kind")
        assert styles() == {STYLE_EVIDENCE}
        await pilot.press("z")
        assert "> 1. Gebruikt U Naltrexone" in screen.message_text.plain
        await pilot.press("z")
        assert "Gebruikt U Naltrexone" not in screen.message_text.plain

    run(db, Position(current=M1), context)


def test_screenshots(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The screenshots of docs/review.md: marks of every kind, a picker and the help."""
    engine = open_database(db)
    sessions = session_factory(engine)
    with sessions() as session:
        review.set_field(session, M1, "ldn_use", "past", reviewer="anne")
    with sessions() as session:
        review.set_field(session, M1, "benefits", "pain,sleep,stiffness", reviewer="anne")
        pks = select_messages(session, idents=[M1])
    monkeypatch.setattr("ldn_inbox.extract.coding.code", fake_coder(CODER_V2, "2.0.0"))
    reparse(sessions, pks, Settings(pseudonym_key=b"k" * 32), reviewer="anne")
    engine.dispose()
    assert view(db, M1).field("ldn_use").conflict
    target = DOCS if WRITE_DOCS else tmp_path
    written: list[Path] = []

    async def scenario(pilot: Any, screen: ReviewScreen) -> None:
        await choose(pilot, screen, "prescriber")
        await pilot.pause()
        for name, keys in (("main", ()), ("picker", ("enter",)), ("help", ("escape", "?"))):
            await pilot.press(*keys)
            await pilot.pause()
            path = target / f"review-{name}.svg"
            screen.app.save_screenshot(path.name, str(target))
            written.append(path)

    run(db, Position(current=M1), scenario, database="/var/lib/ldn-inbox/ldn-inbox.sqlite")
    expected = {"main": (field_label("ldn_use", "en"), value_label("ldn_use", "past", "en"),
                         "/var/lib/ldn-inbox/ldn-inbox.sqlite", "#"),
                "picker": (field_label("prescriber", "en"), "Enter picks"),
                "help": ("Keys", "accept the record")}
    for path in written:
        shown = svg_text(path)
        name = path.stem.removeprefix("review-")
        missing = [text for text in expected[name] if text not in shown]
        assert not missing, f"{path.name} lacks {missing}"


def svg_text(path: Path) -> str:
    """The text a screenshot shows, cells joined, non-breaking spaces as spaces."""
    cells = re.findall(r">([^<>]+)</text>", path.read_text("utf-8"))
    return " ".join(html.unescape(cell) for cell in cells).replace("\xa0", " ")
