"""`ldn-inbox review ...` and `reparse` end to end: fixture messages imported into a real
database (SQLite and PostgreSQL), corrected, undone, re-coded, exported.

The extractor is replaced by a table of known codings (``CODER_V1``, ``CODER_V2``) so the
tests assert on the review tool's behaviour, not on the extractor's current output.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import run_cli
from typer.testing import CliRunner

from ldn_inbox import review
from ldn_inbox.codebook import ANSWER_FIELDS, LIST_FIELDS
from ldn_inbox.errors import ValidationError
from ldn_inbox.extract.coding import Coded, own_text_of
from ldn_inbox.parse.mailings import MailingSet
from ldn_inbox.parse.mime import ParsedMessage
from ldn_inbox.store.db import open_database, session_factory
from ldn_inbox.store.models import Response, ResponseItem

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "emails" / "review"
M1 = "review-01@example.org"  # numbered reply: rheumatologist, flagged prescriber
M2 = "review-02@example.org"  # follow-up of the same sender: "it was my GP"
M3 = "review-03@example.net"  # French, past, HTML and markup in the text
M4 = "review-04@example.com"  # out-of-office

NO_ANSWERS: dict[str, Any] = dict.fromkeys(ANSWER_FIELDS)
CODER_V1: dict[str, dict[str, Any]] = {
    M1: {"kind": "reply", "language": "nl", "ldn_use": "current", "prescriber": "specialist",
         "prescriber_specialty": "rheumatology", "experience": "positive",
         "benefits": ["pain", "sleep"], "side_effects": "yes",
         "side_effect_codes": ["vivid_dreams"], "dose_mg": 4.5},
    M2: {"kind": "reply", "language": "nl", "ldn_use": "unknown", "prescriber": "gp",
         "prescriber_specialty": None, "experience": "unknown", "benefits": [],
         "side_effects": "unknown", "side_effect_codes": [], "dose_mg": None},
    M3: {"kind": "reply", "language": "fr", "ldn_use": "past", "prescriber": "unknown",
         "prescriber_specialty": None, "experience": "no_effect", "benefits": [],
         "side_effects": "no", "side_effect_codes": [], "dose_mg": None},
    M4: {"kind": "auto_reply", "language": "nl", **NO_ANSWERS},
}
#: A "newer extractor": M1's use and M3's experience read differently.
CODER_V2 = {**CODER_V1, M1: {**CODER_V1[M1], "ldn_use": "unknown"},
            M3: {**CODER_V1[M3], "experience": "negative"}}
EVIDENCE = {M1: {"ldn_use": "ik neem sinds een jaar", "prescriber": "De reumatoloog",
                 "benefits": "minder pijn", "dose_mg": "4,5 mg"},
            M3: {"ldn_use": "plus maintenant"}}
REVIEW_FIELDS = {M1: ["prescriber"], M2: ["ldn_use"]}
CONFIDENCE = {M1: {"prescriber": 0.55}, M2: {"ldn_use": 0.4}, M3: {"kind": 0.8}}


def fake_coder(table: dict[str, dict[str, Any]], version: str) -> Callable[..., Coded]:
    """A stand-in for ``coding.code`` that codes the fixtures as ``table`` says."""

    def code(parsed: ParsedMessage, mailings: MailingSet | None = None) -> Coded:
        own = own_text_of(parsed, mailings)
        values = dict(table[parsed.message_id])
        confidence = {name: 0.9 for name, value in values.items() if value is not None}
        confidence.update(CONFIDENCE.get(parsed.message_id, {}))
        evidence = {}
        for name, words in EVIDENCE.get(parsed.message_id, {}).items():
            start = own.text.find(words)
            if start >= 0:
                evidence[name] = [{"start": start, "end": start + len(words), "text": words}]
        return Coded(own.text, own.quoted, values, confidence, evidence,
                     list(REVIEW_FIELDS.get(parsed.message_id, [])), extractor_version=version)

    return code


def invoke(runner: CliRunner, db_url: str, *args: str, env: dict[str, str] | None = None,
           code: int = 0) -> Any:
    """Run the CLI on ``db_url`` and check the exit code."""
    return run_cli(runner, args, db=db_url, code=code, env=env)


def build(runner: CliRunner, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Import the review fixtures, coded by ``CODER_V1``."""
    monkeypatch.setattr("ldn_inbox.extract.coding.code", fake_coder(CODER_V1, "1.0.0"))
    invoke(runner, db_url, "import", "--quiet", str(FIXTURES))


def shown(runner: CliRunner, db_url: str, message_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        invoke(runner, db_url, "review", "show", message_id, "--format", "json").stdout)
    return data


def exported(runner: CliRunner, db_url: str, *args: str) -> dict[str, dict[str, Any]]:
    out = invoke(runner, db_url, "export", "--full", "--format", "jsonl", *args).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {row["message_id"]: row for row in rows}


def history(runner: CliRunner, db_url: str, *args: str) -> list[dict[str, Any]]:
    out = invoke(runner, db_url, "review", "history", *args, "--format", "jsonl").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def built(env: Path, runner: CliRunner, db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The fixtures imported into SQLite, then into PostgreSQL."""
    build(runner, db_url, monkeypatch)
    return db_url


@pytest.fixture
def sqlite_built(env: Path, runner: CliRunner, sqlite_url: str,
                 monkeypatch: pytest.MonkeyPatch) -> str:
    """The fixtures imported into SQLite only (for behaviour no backend changes)."""
    build(runner, sqlite_url, monkeypatch)
    return sqlite_url


@pytest.fixture(scope="module")
def unchanging_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite database for the tests that must leave it as it is (built once)."""
    tmp = tmp_path_factory.mktemp("unchanging")
    url = f"sqlite:///{tmp / 'review.sqlite'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(tmp))
        patch.setenv("XDG_CONFIG_HOME", str(tmp / "config"))
        patch.setenv("LDN_INBOX_PRIVACY_KEY_FILE", str(tmp / "pseudonym.key"))
        build(CliRunner(), url, patch)
    return url


# --------------------------------------------------------------------------- queue
def test_list_orders_the_queue_and_filters(sqlite_built: str, runner: CliRunner) -> None:
    built = sqlite_built
    out = invoke(runner, built, "review", "list", "--format", "jsonl").stdout
    items = [json.loads(line) for line in out.splitlines()]
    # flagged first, lowest confidence first; then the unreviewed rest
    assert [i["message_id"] for i in items[:2]] == [M2, M1]
    assert {i["message_id"] for i in items[2:]} == {M3, M4}
    flagged = invoke(runner, built, "review", "list", "--needs-review").stdout
    assert M1 in flagged
    assert M2 in flagged
    assert M3 not in flagged
    assert "check: prescriber" in flagged
    by_field = invoke(runner, built, "review", "list", "--field", "prescriber").stdout
    assert M1 in by_field
    assert M2 not in by_field
    bad = invoke(runner, built, "review", "list", "--field", "colour", code=2)
    assert "unknown field 'colour'" in bad.stderr
    assert "prescriber_specialty" in bad.stderr


# --------------------------------------------------------------------------- correct, undo
def test_correct_undo_export_history(built: str, runner: CliRunner) -> None:
    out = invoke(runner, built, "review", "set", M1, "prescriber", "gp", "--reviewer", "anne",
                 "--note", "the follow-up says it was the GP").stdout
    assert "prescriber: specialist -> gp" in out
    assert "prescriber_specialty: rheumatology -> null (follows prescriber)" in out

    fields = shown(runner, built, M1)["fields"]
    assert fields["prescriber"] | {"evidence": []} == {
        "effective": "gp", "extracted": "specialist", "human": "gp", "corrected": True,
        "corrected_by": "anne", "confidence": 0.55, "flagged": True, "conflict": False,
        "evidence": []}
    row = exported(runner, built)[M1]
    assert (row["prescriber"], row["prescriber_specialty"]) == ("gp", None)
    assert "prescriber" not in row["review_fields"]
    assert row["needs_review"] is False

    entries = history(runner, built, M1)
    assert [(e["action"], e["field"], e["old"], e["new"], e["reviewer"]) for e in entries] == [
        ("set", "prescriber", "specialist", "gp", "anne"),
        ("set", "prescriber_specialty", "rheumatology", None, "anne"),
    ]
    assert entries[0]["note"] == "the follow-up says it was the GP"
    assert entries[0]["extractor_version"] == "1.0.0"
    assert entries[0]["at"].endswith("+00:00"), "audit times are UTC"
    table = invoke(runner, built, "review", "history", M1).stdout
    assert "anne" in table
    assert "prescriber" in table
    assert "gp" in table

    out = invoke(runner, built, "review", "undo", M1, "--reviewer", "anne").stdout
    assert "prescriber: gp -> specialist (undone)" in out
    assert "prescriber_specialty: null -> rheumatology (undone)" in out
    row = exported(runner, built)[M1]
    assert (row["prescriber"], row["prescriber_specialty"]) == ("specialist", "rheumatology")
    assert shown(runner, built, M1)["fields"]["prescriber"]["corrected"] is False
    assert [e["action"] for e in history(runner, built, M1)] == ["set", "set", "undo", "undo"]
    nothing = invoke(runner, built, "review", "undo", M1, "--reviewer", "anne", code=2)
    assert "nothing of anne to undo" in nothing.stderr


def test_undo_goes_back_step_by_step_and_spares_other_reviewers(
        sqlite_built: str, runner: CliRunner) -> None:
    built = sqlite_built
    invoke(runner, built, "review", "set", M2, "ldn_use", "current", "--reviewer", "anne")
    invoke(runner, built, "review", "set", M2, "ldn_use", "past", "--reviewer", "anne")
    invoke(runner, built, "review", "set", M2, "benefits", "pain,sleep", "--reviewer", "anne")
    invoke(runner, built, "review", "undo", M2, "--reviewer", "anne")
    assert exported(runner, built)[M2]["benefits"] == []
    invoke(runner, built, "review", "undo", M2, "--reviewer", "anne")
    assert exported(runner, built)[M2]["ldn_use"] == "current"
    # bob changes the field anne set first: anne's undo must not wipe bob's value
    invoke(runner, built, "review", "set", M2, "ldn_use", "never", "--reviewer", "bob")
    refused = invoke(runner, built, "review", "undo", M2, "--reviewer", "anne", code=2)
    assert "ldn_use was changed since" in refused.stderr
    assert "bob" in refused.stderr
    assert exported(runner, built)[M2]["ldn_use"] == "never"


@pytest.mark.parametrize(
    ("message_id", "field", "value", "expected"),
    [
        pytest.param(M1, "ldn_use", "sometimes",
                     "allowed: current, past, never, unknown", id="enum-value"),
        pytest.param(M1, "ldn_use", "null", "ldn_use cannot be null", id="not-nullable"),
        pytest.param(M1, "benefits", "pain,flying", "flying not allowed", id="list-value"),
        pytest.param(M1, "dose_mg", "lots", "takes a number in mg", id="number"),
        pytest.param(M1, "colour", "red", "unknown field 'colour'", id="unknown-field"),
        pytest.param(M2, "prescriber_specialty", "neurology",
                     "a specialty needs prescriber = specialist (prescriber is gp: set "
                     "prescriber to specialist first)", id="specialty-needs-specialist"),
        pytest.param(M3, "side_effect_codes", "headache",
                     "set side_effects to yes first", id="codes-need-side-effects"),
        pytest.param(M4, "ldn_use", "current",
                     "kind is auto_reply: set kind to reply first", id="answer-on-auto-reply"),
        pytest.param(M1, "benefits", "null", "a reply lists [] when nothing is named",
                     id="reply-list-null"),
    ],
)
def test_set_refuses_values_the_codebook_does_not_allow(
        env: Path, runner: CliRunner, unchanging_db: str, message_id: str, field: str,
        value: str, expected: str) -> None:
    result = invoke(runner, unchanging_db, "review", "set", message_id, field, value,
                    "--reviewer", "anne", code=2)
    assert expected in result.stderr, result.stderr
    assert history(runner, unchanging_db) == [], "a refused change writes nothing"


def test_unknown_message_and_no_record(env: Path, runner: CliRunner, sqlite_url: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    build(runner, sqlite_url, monkeypatch)
    missing = invoke(runner, sqlite_url, "review", "show", "nobody@example.org", code=8)
    assert "no message 'nobody@example.org'" in missing.stderr
    invoke(runner, sqlite_url, "review", "set", "<nobody@x>", "kind", "reply", code=8)
    # a unique beginning of a Message-ID is enough; an ambiguous one says which match
    assert "review-03@example.net" in invoke(runner, sqlite_url, "review", "show",
                                             "review-03").stdout
    ambiguous = invoke(runner, sqlite_url, "review", "show", "review-0", code=2)
    assert "matches several messages" in ambiguous.stderr


def test_changing_kind_brings_the_answers_along(built: str, runner: CliRunner) -> None:
    out = invoke(runner, built, "review", "set", M1, "kind", "auto_reply",
                 "--reviewer", "anne").stdout
    assert "kind: reply -> auto_reply" in out
    assert "ldn_use: current -> null" in out
    row = exported(runner, built)[M1]
    assert row["kind"] == "auto_reply"
    assert all(row[name] is None for name in ANSWER_FIELDS), row
    # back to reply: the extractor's reading of the answers returns
    invoke(runner, built, "review", "set", M1, "kind", "reply", "--reviewer", "anne")
    row = exported(runner, built)[M1]
    assert {name: row[name] for name in ANSWER_FIELDS} == {
        name: CODER_V1[M1][name] for name in ANSWER_FIELDS}
    # an auto-reply that was a reply after all: the answers start as "not stated"
    invoke(runner, built, "review", "set", M4, "kind", "reply", "--reviewer", "anne")
    row = exported(runner, built)[M4]
    assert (row["ldn_use"], row["prescriber"], row["benefits"], row["dose_mg"]) == (
        "unknown", "unknown", [], None)
    invoke(runner, built, "review", "undo", M4, "--reviewer", "anne")
    row = exported(runner, built)[M4]
    assert row["kind"] == "auto_reply"
    assert row["ldn_use"] is None
    assert row["benefits"] is None


def test_never_and_specialist_rules_follow(env: Path, runner: CliRunner, sqlite_url: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    build(runner, sqlite_url, monkeypatch)
    built = sqlite_url
    invoke(runner, built, "review", "set", M1, "ldn_use", "never", "--reviewer", "anne")
    row = exported(runner, built)[M1]
    assert [row[n] for n in ("prescriber", "prescriber_specialty", "experience",
                             "side_effects", "dose_mg")] == [None] * 5
    assert row["benefits"] == []
    assert row["side_effect_codes"] == []
    invoke(runner, built, "review", "set", M1, "ldn_use", "past", "--reviewer", "anne")
    row = exported(runner, built)[M1]
    assert (row["prescriber"], row["experience"], row["side_effects"]) == (
        "unknown", "unknown", "unknown")
    invoke(runner, built, "review", "set", M2, "prescriber", "specialist", "--reviewer", "anne")
    assert exported(runner, built)[M2]["prescriber_specialty"] == "unknown"
    invoke(runner, built, "review", "set", M2, "prescriber_specialty", "internal_medicine",
           "--reviewer", "anne")
    assert exported(runner, built)[M2]["prescriber_specialty"] == "internal_medicine"


# --------------------------------------------------------------------------- accept, notes
def test_accept_marks_reviewed_and_keeps_values_over_recoding(
        built: str, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    invoke(runner, built, "review", "accept", M3, "--reviewer", "anne")
    rows = exported(runner, built, "--reviewed-only")
    assert list(rows) == [M3]
    assert rows[M3]["reviewed"] is True
    listed = invoke(runner, built, "review", "list").stdout
    assert M3 not in listed, "an accepted record leaves the queue"
    assert M3 in invoke(runner, built, "review", "list", "--all").stdout
    # a newer coding of an accepted record does not change it: it is a conflict
    monkeypatch.setattr("ldn_inbox.extract.coding.code", fake_coder(CODER_V2, "2.0.0"))
    invoke(runner, built, "reparse", M3, "--reviewer", "anne")
    assert exported(runner, built)[M3]["experience"] == "no_effect"
    conflicts = invoke(runner, built, "review", "list", "--conflicts").stdout
    assert M3 in conflicts
    assert "conflict: experience" in conflicts
    # undoing the accept makes the coder's values effective again
    out = invoke(runner, built, "review", "undo", M3, "--reviewer", "anne").stdout
    assert "accept undone" in out
    row = exported(runner, built)[M3]
    assert row["reviewed"] is False
    assert row["experience"] == "negative"


def test_accept_refuses_an_inconsistent_record(env: Path, runner: CliRunner, sqlite_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    broken = {**CODER_V1, M2: {**CODER_V1[M2], "prescriber_specialty": "neurology"}}
    monkeypatch.setattr("ldn_inbox.extract.coding.code", fake_coder(broken, "1.0.0"))
    invoke(runner, sqlite_url, "import", "--quiet", str(FIXTURES))
    refused = invoke(runner, sqlite_url, "review", "accept", M2, "--reviewer", "anne", code=2)
    assert "a specialty needs prescriber = specialist" in refused.stderr
    # fixing another field is allowed while the old problem remains (it is reported)
    fixed = invoke(runner, sqlite_url, "review", "set", M2, "benefits", "pain",
                   "--reviewer", "anne")
    assert "warning: prescriber_specialty" in fixed.stderr
    invoke(runner, sqlite_url, "review", "set", M2, "prescriber_specialty", "null",
           "--reviewer", "anne")
    invoke(runner, sqlite_url, "review", "accept", M2, "--reviewer", "anne")


def test_show_note_and_reviewer_from_environment(env: Path, runner: CliRunner, sqlite_url: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    build(runner, sqlite_url, monkeypatch)
    built = sqlite_url
    invoke(runner, built, "review", "note", M1, "asks to be called back", "--field", "kind",
           env={"LDN_INBOX_REVIEWER": "carla"})
    text = invoke(runner, built, "review", "show", M1).stdout
    assert "1. Ja, ik neem sinds een jaar 4,5 mg per dag." in text
    assert "other messages from this sender" in text
    assert M2 in text
    assert "Ik vergat iets" in text
    assert "carla [kind]: asks to be called back" in text
    assert "prescriber" in text
    assert "check" in text
    assert "'De reumatoloog'" in text, "evidence is listed"
    entries = history(runner, built)
    assert (entries[-1]["action"], entries[-1]["reviewer"]) == ("note", "carla")
    invoke(runner, built, "review", "accept", M4)  # no --reviewer, no variable: the OS user
    assert history(runner, built)[-1]["reviewer"] == review.default_reviewer(env={})


# --------------------------------------------------------------------------- reparse
def test_reparse_keeps_the_human_value_and_lists_the_conflict(
        built: str, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    invoke(runner, built, "review", "set", M1, "ldn_use", "past", "--reviewer", "anne")
    monkeypatch.setattr("ldn_inbox.extract.coding.code", fake_coder(CODER_V2, "2.0.0"))
    out = invoke(runner, built, "reparse", "--all", "--reviewer", "bob").stdout
    assert "4 re-coded, 2 with a changed coding" in out
    assert "1 now disagree with a human value" in out

    rows = exported(runner, built)
    assert rows[M1]["ldn_use"] == "past", "the human value survives re-coding"
    assert rows[M1]["extractor_version"] == "2.0.0"
    assert rows[M3]["experience"] == "negative", "uncorrected fields follow the new coding"
    listed = invoke(runner, built, "review", "list", "--conflicts", "--format", "jsonl").stdout
    assert [json.loads(line)["message_id"] for line in listed.splitlines()] == [M1]
    assert json.loads(listed)["conflicts"] == ["ldn_use"]
    field = shown(runner, built, M1)["fields"]["ldn_use"]
    assert (field["effective"], field["extracted"], field["human"], field["conflict"]) == (
        "past", "unknown", "past", True)
    assert [(e["action"], e["reviewer"], e["extractor_version"])
            for e in history(runner, built, M1)] == [
        ("set", "anne", "1.0.0"), ("reparse", "bob", "2.0.0")]

    # accepting settles the conflict in favour of the human value
    out = invoke(runner, built, "review", "accept", M1, "--reviewer", "anne").stdout
    assert "kept the human value over the newer coding for ldn_use" in out
    assert "nothing to review" in invoke(runner, built, "review", "list", "--conflicts").stdout
    # re-coding again with the same extractor changes nothing
    out = invoke(runner, built, "reparse", "--since", "2024-03-05", "--reviewer", "bob").stdout
    assert out.startswith("2 re-coded, 0 with a changed coding")
    assert exported(runner, built)[M1]["ldn_use"] == "past"


def test_reparse_arguments(env: Path, runner: CliRunner, sqlite_url: str,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    build(runner, sqlite_url, monkeypatch)
    assert "exactly one of" in invoke(runner, sqlite_url, "reparse", code=2).stderr
    assert "exactly one of" in invoke(runner, sqlite_url, "reparse", "--all", M1,
                                      code=2).stderr
    assert "not a date" in invoke(runner, sqlite_url, "reparse", "--since", "March",
                                  code=2).stderr
    invoke(runner, sqlite_url, "reparse", "nobody@example.org", code=8)

    def crash(parsed: ParsedMessage, mailings: MailingSet | None = None) -> Coded:
        raise RuntimeError("extractor bug")

    monkeypatch.setattr("ldn_inbox.extract.coding.code", crash)
    failed = invoke(runner, sqlite_url, "reparse", M1, code=1)
    assert "extractor bug" in failed.stderr
    assert "old coding is kept" in failed.stderr
    assert exported(runner, sqlite_url)[M1]["ldn_use"] == "current"


# --------------------------------------------------------------------------- two reviewers
def test_two_reviewers_at_once_lose_nothing(built: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Two reviewers with their own connections correct the same message concurrently."""
    plans = {  # list fields are also rows of response_items: the likeliest to collide
        "anne": [("benefits", "pain"), ("benefits", "fatigue,pain"), ("ldn_use", "past"),
                 ("benefits", "fatigue,pain,sleep")],
        "bob": [("side_effect_codes", "headache"), ("side_effect_codes", "headache,nausea"),
                ("dose_mg", "6"), ("side_effect_codes", "headache,vivid_dreams")],
    }
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    refresh = review.refresh_response

    def slow_refresh(session: Any, message: Any) -> Any:
        time.sleep(0.05)  # widen the window in which an unlocked writer would read stale rows
        return refresh(session, message)

    monkeypatch.setattr(review, "refresh_response", slow_refresh)

    def work(reviewer: str) -> None:
        engine = open_database(built)
        sessions = session_factory(engine)
        try:
            for field, value in plans[reviewer]:
                barrier.wait(timeout=30)
                with sessions() as session:
                    review.set_field(session, M1, field, value, reviewer=reviewer)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            barrier.abort()
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work, args=(name,)) for name in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    engine = open_database(built)
    try:
        with session_factory(engine)() as session:
            view = review.show(session, M1)
            entries = review.history(session, M1)
            stored = session.get(Response, review.find_message(session, M1).id)
            assert stored is not None
            for f in view.fields:  # the record exports read holds every change too
                assert review.identical(getattr(stored, f.name), f.effective), f.name
            items = {(row.field, row.code) for row in session.execute(
                sa.select(ResponseItem.field, ResponseItem.code)
                .where(ResponseItem.message_pk == stored.message_pk))}
            assert items == {(f.name, code) for f in view.fields if f.name in LIST_FIELDS
                             for code in f.effective or []}
    finally:
        engine.dispose()
    effective = {f.name: f.effective for f in view.fields}
    assert effective["ldn_use"] == "past"
    assert effective["benefits"] == ["fatigue", "pain", "sleep"]
    assert effective["dose_mg"] == 6.0
    assert effective["side_effect_codes"] == ["headache", "vivid_dreams"]
    assert {(f.name, f.corrected_by) for f in view.fields if f.corrected} == {
        ("ldn_use", "anne"), ("benefits", "anne"), ("dose_mg", "bob"),
        ("side_effect_codes", "bob")}
    assert len(entries) == 8, "every change is in the audit log"


def test_a_stale_screen_cannot_overwrite_another_reviewers_value(sqlite_built: str) -> None:
    built = sqlite_built
    engine = open_database(built)
    try:
        sessions = session_factory(engine)
        with sessions() as session:
            seen = review.show(session, M2).field("prescriber").effective
        with sessions() as session:
            review.set_field(session, M2, "prescriber", "other", reviewer="bob")
        with sessions() as session, pytest.raises(ValidationError, match="is now other"):
            review.set_field(session, M2, "prescriber", "specialist", reviewer="anne",
                             expect=seen)
        with sessions() as session:
            assert review.show(session, M2).field("prescriber").effective == "other"
    finally:
        engine.dispose()
