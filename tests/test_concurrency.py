"""A volunteer reviews and exports while ``ldn-inbox fetch`` runs: nothing is lost.

Real parts only: the suite's Dovecot, a real ``ldn-inbox fetch`` process, and real
``ldn-inbox review set`` and ``ldn-inbox export`` processes started over and over while it
runs, on the same database (a SQLite file in WAL mode with its busy timeout, then
PostgreSQL). Afterwards every message is stored and ledgered exactly once, every correction
is there with its audit row and is the effective value of the final export, and each export
taken during the run is a whole, consistent snapshot.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from servers import DovecotServer
from sqlalchemy.orm import Session
from test_imap import ALICE, ALICE_PW, contents, fetch_args, message, new_folder, sha256

from ldn_inbox.codebook import Value
from ldn_inbox.review import format_value
from ldn_inbox.serve.export import FULL_EXPORT_COLUMNS
from ldn_inbox.store.db import SQLITE_BUSY_TIMEOUT_S
from ldn_inbox.store.models import AuditEntry, Correction, Extraction, ImapLedger, Message

pytestmark = pytest.mark.imap

#: Messages fetched before the concurrent run (the ones reviewed from the start).
FIRST = 100
#: Messages in the folder in the end; the concurrent fetch reads TOTAL - FIRST of them.
TOTAL = 1600
#: UIDs per UID FETCH in the concurrent run: small batches, so many short write transactions.
BATCH = 20
REVIEWER = "concurrent-reviewer"
TAG = "conc"
#: Fields with no dependants (a change to one never changes another), each with the values
#: a correction cycles through: none is what the coder reads from ``message()`` (CODED).
CORRECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dose_mg", ("1.5", "2.25", "3.75", "4.5")),
    ("experience", ("mixed", "negative", "no_effect")),
    ("benefits", ("fatigue,sleep", "mood", "cognition,stiffness")),
)
CODED = {"dose_mg": "null", "experience": "positive", "benefits": "pain"}
#: A command that waits for the database longer than the busy timeout fails: give it that.
COMMAND_TIMEOUT_S = SQLITE_BUSY_TIMEOUT_S + 60


def message_id(n: int) -> str:
    return f"{TAG}-{n}@test.invalid"


def command(db_url: str, *args: str) -> list[str]:
    """``ldn-inbox --db URL ARGS...``: the installed console script, as a volunteer runs it."""
    script = Path(sys.executable).with_name("ldn-inbox")
    base = [str(script)] if script.exists() else [sys.executable, "-P", "-m", "ldn_inbox"]
    return [*base, "--db", db_url, *args]


@dataclass
class Run:
    """One finished ``review set`` or ``export`` process, with when it ran."""

    args: list[str]
    started: float
    ended: float
    code: int
    stdout: str
    stderr: str

    def failure(self) -> str:
        return (f"{' '.join(self.args[1:])}: exit {self.code}\nstdout: {self.stdout}\n"
                f"stderr: {self.stderr}")


def run_command(db_url: str, cwd: Path, *args: str) -> Run:
    started = time.monotonic()
    proc = subprocess.run(command(db_url, *args), env=dict(os.environ), cwd=cwd,
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    return Run(list(args), started, time.monotonic(), proc.returncode, proc.stdout,
               proc.stderr)


@dataclass
class Correcting:
    """A ``review set`` made during the fetch."""

    message_id: str
    field: str
    value: str
    note: str
    run: Run


@dataclass
class Exporting:
    """An ``export`` taken during the fetch."""

    path: Path
    format: str
    run: Run


@dataclass
class Activity:
    corrections: list[Correcting] = field(default_factory=list)
    exports: list[Exporting] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)


def expected_value(field_name: str, text: str) -> Value:
    """What the database and the JSONL export hold for ``text`` of ``field_name``."""
    if field_name == "dose_mg":
        return float(text)
    if field_name == "benefits":
        return sorted(text.split(","))
    return text


def csv_value(field_name: str, text: str) -> str:
    """The CSV cell for ``text`` of ``field_name``."""
    value = expected_value(field_name, text)
    return ";".join(value) if isinstance(value, list) else str(value)


def coded_ids(db_url: str, lowest: int) -> list[int]:
    """Numbers of this folder's messages above ``lowest`` that have a coded record now."""
    engine = sa.create_engine(db_url)
    try:
        with Session(engine) as session:
            ids = session.scalars(sa.select(Message.message_id).join(
                Extraction, Extraction.message_pk == Message.id)).all()
    except sa.exc.OperationalError:  # busy for a moment: try again on the next turn
        return []
    finally:
        engine.dispose()
    numbers = [int(mid.split("@")[0].rsplit("-", 1)[1]) for mid in ids
               if mid.startswith(f"{TAG}-")]
    return sorted(n for n in numbers if n > lowest)


def review_loop(db_url: str, cwd: Path, fetching: subprocess.Popen[bytes],
                activity: Activity) -> None:
    """Correct one field of one message after another while the fetch runs: alternately a
    message stored before the run and one the running fetch has just coded."""
    used: set[int] = set()
    step = 0
    try:
        while fetching.poll() is None and step < 60:
            number = None
            if step % 2:
                # wait for the running fetch's first records (it writes them a few batches
                # after it starts, and may otherwise be done before a correction reaches one)
                while not (fresh := [n for n in coded_ids(db_url, FIRST) if n not in used]) \
                        and fetching.poll() is None:
                    time.sleep(0.05)
                number = fresh[-1] if fresh else None
            if number is None:
                number = next(n for n in range(1, FIRST + 1) if n not in used)
            used.add(number)
            field_name, values = CORRECTIONS[step % len(CORRECTIONS)]
            value = values[step % len(values)]
            mid, note = message_id(number), f"made during the fetch ({step})"
            args = ["review", "set", mid, field_name, value, "--reviewer", REVIEWER,
                    "--note", note]
            activity.corrections.append(
                Correcting(mid, field_name, value, note, run_command(db_url, cwd, *args)))
            step += 1
    except BaseException as exc:  # reported by the test, not lost in the thread
        activity.errors.append(exc)


def export_loop(db_url: str, cwd: Path, fetching: subprocess.Popen[bytes],
                activity: Activity) -> None:
    """Export the records again and again while the fetch runs, CSV and JSONL in turn."""
    step = 0
    try:
        while fetching.poll() is None and step < 60:
            fmt = ("csv", "jsonl")[step % 2]
            path = cwd / f"during-{step:03d}.{fmt}"
            run = run_command(db_url, cwd, "export", "--full", "--format", fmt, "--output",
                              str(path))
            activity.exports.append(Exporting(path, fmt, run))
            step += 1
    except BaseException as exc:
        activity.errors.append(exc)


def read_export(path: Path, fmt: str) -> list[dict[str, object]]:
    """The rows of an export file, checking it is whole: header, no short or cut-off row."""
    text = path.read_bytes().decode("utf-8")
    if fmt == "jsonl":
        assert text == "" or text.endswith("\n"), f"{path.name}: last line cut off"
        rows = [json.loads(line) for line in text.splitlines()]
        for row in rows:
            assert list(row) == list(FULL_EXPORT_COLUMNS), f"{path.name}: keys {list(row)}"
        return rows
    assert text.startswith("\ufeff"), f"{path.name}: no BOM"
    assert text.endswith("\r\n"), f"{path.name}: last row cut off"
    records = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert records, f"{path.name}: empty"
    header, *body = records
    assert header == list(FULL_EXPORT_COLUMNS), f"{path.name}: header {header}"
    for record in body:
        assert len(record) == len(header), f"{path.name}: partial row {record}"
    return [dict(zip(header, record, strict=True)) for record in body]


def shown(fmt: str, field_name: str, text: str) -> object:
    return expected_value(field_name, text) if fmt == "jsonl" else csv_value(field_name, text)


@pytest.fixture
def imap_env(env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LDN_INBOX_IMAP_PASSWORD", ALICE_PW)
    return env


def test_review_and_export_during_fetch_lose_nothing(dovecot: DovecotServer, imap_env: Path,
                                                     db_url: str, tmp_path: Path) -> None:
    all_messages = [message(n, TAG) for n in range(1, TOTAL + 1)]
    all_ids = {message_id(n) for n in range(1, TOTAL + 1)}
    first_ids = {message_id(n) for n in range(1, FIRST + 1)}
    folder = new_folder(dovecot, "Conc")
    work = tmp_path / "work"
    work.mkdir()

    # 1. A first fetch, so that there are coded records to review from the start.
    assert dovecot.bulk_load(ALICE, folder, all_messages[:FIRST]) == FIRST
    first = subprocess.run(fetch_args(db_url, dovecot, folder), env=dict(os.environ), cwd=work,
                           capture_output=True, timeout=120)
    assert first.returncode == 0, first.stderr.decode()
    assert contents(db_url).messages == FIRST
    assert dovecot.bulk_load(ALICE, folder, all_messages[FIRST:]) == TOTAL - FIRST

    # 2. The second fetch, with corrections and exports made while it runs.
    out_path, err_path = tmp_path / "fetch.out", tmp_path / "fetch.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        fetching = subprocess.Popen(
            fetch_args(db_url, dovecot, folder, "--batch-size", str(BATCH), "--verbose"),
            env=dict(os.environ), cwd=work, stdout=out, stderr=err)
    activity = Activity()
    workers = [threading.Thread(target=loop, args=(db_url, work, fetching, activity))
               for loop in (review_loop, export_loop)]
    for worker in workers:
        worker.start()
    try:
        code = fetching.wait(timeout=180)
    finally:
        if fetching.poll() is None:
            fetching.kill()
            fetching.wait()
        fetch_ended = time.monotonic()
        for worker in workers:
            worker.join(timeout=2 * COMMAND_TIMEOUT_S)
    summary = out_path.read_text() + err_path.read_text()
    assert not activity.errors, activity.errors
    assert code == 0, summary
    assert f"{TOTAL - FIRST} fetched, {TOTAL - FIRST} new" in summary, summary

    # Every command succeeded, none waited out the busy timeout.
    runs = [c.run for c in activity.corrections] + [e.run for e in activity.exports]
    for run in runs:
        assert run.code == 0, run.failure()
        assert "locked" not in run.stderr.lower(), run.failure()
    # They ran while the fetch did (else this test proves nothing).
    during = [c for c in activity.corrections if c.run.ended < fetch_ended]
    exported_during = [e for e in activity.exports if e.run.ended < fetch_ended]
    assert len(during) >= 3, f"only {len(during)} corrections during the fetch"
    assert len(exported_during) >= 3, f"only {len(exported_during)} exports during the fetch"
    fresh = [c for c in during if c.message_id not in first_ids]
    assert fresh, "no correction of a message the running fetch had coded"

    # 3a. Each message once: raw store, records, sources, one ledger row per UID.
    got = contents(db_url)
    assert (got.raw, got.messages, got.sources, got.pending) == (TOTAL, TOTAL, TOTAL, 0)
    assert got.ledger == {"stored": TOTAL}
    assert got.sha256s == {sha256(m) for m in all_messages}
    engine = sa.create_engine(db_url)
    try:
        with Session(engine) as session:
            ledger = session.execute(
                sa.select(ImapLedger.uidvalidity, ImapLedger.uid)
                .where(ImapLedger.folder == folder)).all()
            corrections = {
                (mid, c.field): c for c, mid in session.execute(
                    sa.select(Correction, Message.message_id)
                    .join(Message, Message.id == Correction.message_pk)).all()}
            audit = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "set")
                                    .order_by(AuditEntry.id)).all()
    finally:
        engine.dispose()
    assert len(ledger) == len(set(ledger)) == TOTAL
    assert {uidvalidity for uidvalidity, _ in ledger} == {dovecot.uidvalidity(ALICE, folder)}
    assert sorted(uid for _, uid in ledger) == dovecot.uids(ALICE, folder)

    # 3b. Each correction: changed the coded value, is stored, audited once, by its reviewer.
    made = {(c.message_id, c.field): c for c in activity.corrections}
    assert len(made) == len(activity.corrections), "a field was corrected twice"
    for c in activity.corrections:  # each changed the coder's value, and nothing else
        new = format_value(expected_value(c.field, c.value))
        assert c.run.stdout == f"{c.field}: {CODED[c.field]} -> {new}\n", c.run.failure()
    assert set(corrections) == set(made), "corrections table differs from what was made"
    for key, c in made.items():
        stored = corrections[key]
        assert stored.value == {"v": expected_value(c.field, c.value)}, key
        assert stored.reviewer == REVIEWER, key
    audited = [(e.message_id, e.field, (e.new_value or {}).get("v"), e.reviewer, e.note)
               for e in audit]
    assert len(audited) == len(made), audited
    for c in activity.corrections:
        entry = (c.message_id, c.field, expected_value(c.field, c.value), REVIEWER, c.note)
        assert audited.count(entry) == 1, (entry, audited)

    # 3c. Each export taken during the run is whole and a consistent snapshot: every
    # message stored before the run, only messages of the folder, each once, and every
    # correction finished before the export began.
    counts: list[int] = []
    for e in activity.exports:
        rows = read_export(e.path, e.format)
        ids = [str(row["message_id"]) for row in rows]
        assert len(ids) == len(set(ids)), f"{e.path.name}: a message twice"
        assert set(ids) <= all_ids, f"{e.path.name}: unknown messages"
        assert first_ids <= set(ids), f"{e.path.name}: messages stored before the run missing"
        assert f"{len(rows)} rows written" in e.run.stderr, e.run.failure()
        by_id = {str(row["message_id"]): row for row in rows}
        for c in activity.corrections:
            if c.run.ended < e.run.started:
                assert c.message_id in by_id, (e.path.name, c.message_id)
                assert by_id[c.message_id][c.field] == shown(e.format, c.field, c.value), (
                    f"{e.path.name}: correction {c.message_id} {c.field}={c.value} lost")
        counts.append(len(rows))
    assert counts == sorted(counts), f"an export had fewer rows than an earlier one: {counts}"
    assert any(FIRST < n < TOTAL for n in counts), f"no export saw the run half-way: {counts}"

    # 3d. A final export holds every message, with every correction as its value.
    for fmt in ("csv", "jsonl"):
        path = work / f"final.{fmt}"
        run = run_command(db_url, work, "export", "--full", "--format", fmt, "--output",
                          str(path))
        assert run.code == 0, run.failure()
        rows = read_export(path, fmt)
        by_id = {str(row["message_id"]): row for row in rows}
        assert len(rows) == len(by_id) == TOTAL
        assert set(by_id) == all_ids
        for c in activity.corrections:
            assert by_id[c.message_id][c.field] == shown(fmt, c.field, c.value), (
                f"final {fmt}: correction {c.message_id} {c.field}={c.value} not effective")
