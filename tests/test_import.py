"""Importing files into the raw store, through the CLI and through ``pipeline.ingest``, on
SQLite and PostgreSQL: what is stored (byte for byte), under which id, from which sources,
what is skipped or quarantined, the kind of every fixture, and the exports' structure.

The fixture set is imported once per backend (module scope); tests that change a database
get a fresh one from ``db_url``.
"""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import io
import json
import mailbox
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import run_cli
from typer.testing import CliRunner

from ldn_inbox.flow.pipeline import RunSummary, Settings, ingest
from ldn_inbox.serve.export import FULL_EXPORT_COLUMNS
from ldn_inbox.sources.base import RawItem, Skipped
from ldn_inbox.sources.files import iter_paths
from ldn_inbox.store.db import open_database, session_factory
from ldn_inbox.store.models import Message, RawMessage, RawSource

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "emails"
MIME_DIR = FIXTURES / "mime"
GOLDEN = sorted(FIXTURES.glob("*.eml"))
MIME = sorted(MIME_DIR.glob("*.eml"))
MIME_CASES: dict[str, dict[str, Any]] = {
    name: case for name, case in json.loads((MIME_DIR / "cases.json").read_text("utf-8")).items()
    if not name.startswith("_")
}
SETTINGS = Settings(pseudonym_key=b"import-test-pseudonym-key-000000")
HUMAN = {"reply", "not_survey"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expected_id(path: Path) -> str:
    """The Message-ID the codebook expects for a fixture (synthetic when it has none)."""
    sidecar = path.with_name(path.stem + ".expected.json")
    if sidecar.exists():
        mid = json.loads(sidecar.read_text("utf-8"))["message_id"]
    else:
        mid = MIME_CASES[path.name]["message_id"]
    return mid or "missing-" + sha(path.read_bytes())[:16]


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {table: conn.scalar(sa.text(f"SELECT count(*) FROM {table}"))
                    for table in ("raw_messages", "raw_sources", "messages", "responses")}
    finally:
        engine.dispose()


def invoke(runner: CliRunner, url: str, *args: str, code: int = 0) -> Any:
    """Run ``ldn-inbox --db url ARGS`` in-process and check the exit code."""
    return run_cli(runner, args, db=url, code=code)


def round_trips(data: bytes) -> bool:
    """Whether an mbox keeps these bytes unchanged (no From_ mangling, final newline)."""
    return data.endswith(b"\n") and b"\nFrom " not in data


# --------------------------------------------------------------------------- the fixture set
@dataclass
class Imported:
    """The fixture set copied into a directory tree and imported into ``url``."""

    url: str
    files: dict[Path, Path]  # copy in the tree -> fixture it came from
    summary: RunSummary
    skipped: list[Skipped]


def _import_tree(url: str, base: Path, sources: list[Path]) -> Imported:
    tree = base / "tree"
    files: dict[Path, Path] = {}
    for source in sources:
        # nested two and three levels deep, so the import must walk the tree
        sub = ("nl" if source.name.startswith("1") else "andere/talen"
               if source.name.startswith("2") else "mime/case")
        target = tree / sub / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        files[target] = source
    (tree / "nl" / "LEESMIJ.txt").write_text("Enquête-antwoorden, geëxporteerd uit Outlook.\n",
                                             encoding="utf-8")
    engine = open_database(url)
    skipped: list[Skipped] = []
    try:
        summary = ingest(session_factory(engine), iter_paths([tree], skipped), SETTINGS)
    finally:
        engine.dispose()
    return Imported(url, files, summary, skipped)


@pytest.fixture(scope="module")
def sqlite_golden(tmp_path_factory: pytest.TempPathFactory) -> Imported:
    base = tmp_path_factory.mktemp("golden-sqlite")
    return _import_tree(f"sqlite:///{base / 'golden.sqlite'}", base, GOLDEN + MIME)


def _postgres_share() -> list[Path]:
    """What is imported into PostgreSQL: coding does not depend on the backend, storage
    does, so a third of the fixture set, every message without a Message-ID and every
    client-shaped MIME case (NUL bytes, control characters, 8-bit headers)."""
    return [p for i, p in enumerate(GOLDEN)
            if i % 3 == 0 or expected_id(p).startswith("missing-")] + MIME


@pytest.fixture(scope="module")
def postgres_golden(request: pytest.FixtureRequest,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imported]:
    server = request.getfixturevalue("postgres")
    name = "golden_" + uuid.uuid4().hex[:12]
    url = server.create_database(name)
    yield _import_tree(url, tmp_path_factory.mktemp("golden-postgres"), _postgres_share())
    server.drop_database(name)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def golden(request: pytest.FixtureRequest) -> Imported:
    """The imported fixture set, on SQLite then on PostgreSQL (read only: do not change)."""
    imported: Imported = request.getfixturevalue(f"{request.param}_golden")
    return imported


@functools.lru_cache(maxsize=4)
def kinds(url: str) -> dict[str, tuple[str | None, str | None, str]]:
    """message_id -> (kind, language, parse_status) of an imported fixture set (read once:
    those databases are not changed)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT m.message_id, r.kind, r.language, m.parse_status FROM messages m "
                "LEFT JOIN responses r ON r.message_pk = m.id"))
            return {mid: (kind, language, status) for mid, kind, language, status in rows}
    finally:
        engine.dispose()


def test_directory_is_imported_recursively(golden: Imported) -> None:
    n = len(golden.files)
    assert n > len(MIME) + 40
    summary = golden.summary
    assert (summary.seen, summary.new, summary.known, summary.quarantined) == (n, n, 0, 0)
    assert summary.coded == n
    assert [Path(s.path).name for s in golden.skipped] == ["LEESMIJ.txt"]
    assert counts(golden.url) == {"raw_messages": n, "raw_sources": n, "messages": n,
                                  "responses": n}


def test_raw_bytes_are_kept_byte_for_byte(golden: Imported) -> None:
    engine = sa.create_engine(golden.url)
    problems = []
    with session_factory(engine)() as session:
        for copy, source in golden.files.items():
            data = source.read_bytes()
            raw = session.scalar(sa.select(RawMessage).where(RawMessage.sha256 == sha(data)))
            if raw is None:
                problems.append(f"{source.name}: not stored")
                continue
            if (raw.original(), raw.size, raw.message_id) != (data, len(data), expected_id(source)):
                problems.append(f"{source.name}: stored bytes, size or id differ")
            where = [(s.source_type, s.location, s.key) for s in raw.sources]
            if where != [("file", str(copy.resolve()), "")]:
                problems.append(f"{source.name}: sources {where}")
    engine.dispose()
    assert problems == []


def test_message_ids(golden: Imported) -> None:
    stored = kinds(golden.url)
    assert set(stored) == {expected_id(source) for source in golden.files.values()}
    synthetic = sorted(mid for mid in stored if mid.startswith("missing-"))
    assert len(synthetic) >= 3, synthetic  # 221, 275 and m09 have no Message-ID
    assert all(len(mid) == len("missing-") + 16 for mid in synthetic)


def test_backends_agree(sqlite_golden: Imported, postgres_golden: Imported) -> None:
    """Same messages, same ids, kinds, languages and parse status on both backends."""
    on_postgres = kinds(postgres_golden.url)
    on_sqlite = kinds(sqlite_golden.url)
    assert set(on_postgres) <= set(on_sqlite)
    assert on_postgres == {mid: on_sqlite[mid] for mid in on_postgres}


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_kind_is_the_expected_one(sqlite_golden: Imported, path: Path) -> None:
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text("utf-8"))
    kind, _language, status = kinds(sqlite_golden.url)[expected_id(path)]
    assert status == "ok"
    assert kind == expected["kind"], f"kind {kind}, expected {expected['kind']}"


@pytest.mark.parametrize("name", sorted(MIME_CASES))
def test_mime_case_is_stored_and_coded(golden: Imported, name: str) -> None:
    case = MIME_CASES[name]
    data = (MIME_DIR / name).read_bytes()
    engine = sa.create_engine(golden.url)
    with session_factory(engine)() as session:
        message = session.scalar(
            sa.select(Message).where(Message.message_id == expected_id(MIME_DIR / name)))
        assert message is not None
        raw = session.get(RawMessage, message.raw_id)
        assert raw is not None
        assert raw.original() == data
        assert (message.parse_status, message.subject) == ("ok", case["subject"])
        for column in (message.subject, message.own_text, message.quoted_text):
            assert "\x00" not in (column or "")
        assert [(a["filename"], a["has_text"]) for a in message.attachments] == [
            (a["filename"], a["has_text"]) for a in case.get("attachments", [])]
        assert message.failed_recipient == case.get("failed_recipient")
    engine.dispose()
    kind = kinds(golden.url)[message.message_id][0]
    assert kind in HUMAN if case["kind"] == "human" else kind == case["kind"], kind


# --------------------------------------------------------------------------- exports
def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def test_exports_jsonl_and_csv(golden: Imported, env: Path, runner: CliRunner,
                               tmp_path: Path) -> None:
    jsonl = tmp_path / "out.jsonl"
    result = invoke(runner, golden.url, "export", "--full", "--format", "jsonl", "--output",
                    str(jsonl))
    assert f"{len(golden.files)} rows written" in result.stderr
    rows = [json.loads(line) for line in jsonl.read_text("utf-8").splitlines()]
    assert len(rows) == len(golden.files)
    assert {row["message_id"] for row in rows} == set(kinds(golden.url))
    for row in rows:
        assert list(row) == list(FULL_EXPORT_COLUMNS)
        for name in ("benefits", "side_effect_codes"):
            assert row[name] is None or isinstance(row[name], list), name
        assert isinstance(row["review_fields"], list)
        assert isinstance(row["needs_review"], bool)
        assert isinstance(row["confidence"], dict)
        assert isinstance(row["evidence"], dict)
        assert row["source"].startswith("file:")
        assert row["source"].endswith(".eml")
        assert "@" not in (row["respondent_id"] or ""), "an address in the export"
    assert any(len(row["benefits"] or []) >= 2 for row in rows), "no multi-valued list"

    for delimiter in (",", ";"):
        path = tmp_path / f"out{delimiter == ';'}.csv"
        invoke(runner, golden.url, "export", "--full", "--format", "csv", "--delimiter",
               delimiter,
               "-o", str(path))
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), "no UTF-8 BOM"
        table = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline=""),
                                delimiter=delimiter))
        assert table[0] == list(FULL_EXPORT_COLUMNS)
        assert len(table) == len(rows) + 1
        for row, line in zip(rows, table[1:], strict=True):
            assert line == [_csv_cell(row[name]) for name in FULL_EXPORT_COLUMNS], \
                row["message_id"]


def test_export_by_kind(golden: Imported, env: Path, runner: CliRunner) -> None:
    out = invoke(runner, golden.url, "export", "--full", "--format", "jsonl", "--kind",
                 "bounce").stdout
    rows = [json.loads(line) for line in out.splitlines()]
    bounces = {mid for mid, (kind, _, _) in kinds(golden.url).items() if kind == "bounce"}
    assert rows
    assert {row["message_id"] for row in rows} == bounces
    assert {row["kind"] for row in rows} == {"bounce"}


# --------------------------------------------------------------------------- mbox, maildir
def _pick(count: int, start: int) -> list[Path]:
    return [p for p in GOLDEN if round_trips(p.read_bytes())][start:start + count]


def test_mbox_and_maildir_reimport_and_two_sources(env: Path, runner: CliRunner, db_url: str,
                                                   tmp_path: Path) -> None:
    in_mbox = _pick(6, 0)
    in_maildir = _pick(3, 4)      # two of them are in the mbox too
    in_subfolder = _pick(2, 20)   # Maildir++ folder .Archief
    mbox_path = tmp_path / "inbox.mbox"
    box = mailbox.mbox(str(mbox_path))
    for path in in_mbox:
        box.add(path.read_bytes())
    box.close()
    maildir = mailbox.Maildir(str(tmp_path / "Maildir"))
    for path in in_maildir:
        maildir.add(path.read_bytes())
    archive = maildir.add_folder("Archief")
    for path in in_subfolder:
        archive.add(path.read_bytes())
    distinct = {p.name for p in in_mbox + in_maildir + in_subfolder}
    sources = len(in_mbox) + len(in_maildir) + len(in_subfolder)

    first = invoke(runner, db_url, "import", str(mbox_path), str(tmp_path / "Maildir"))
    assert f"{sources} seen: {len(distinct)} new, {sources - len(distinct)} already stored" \
        in first.stdout
    after_first = counts(db_url)
    assert after_first == {"raw_messages": len(distinct), "raw_sources": sources,
                           "messages": len(distinct), "responses": len(distinct)}

    again = invoke(runner, db_url, "import", str(mbox_path), str(tmp_path / "Maildir"))
    assert f"{sources} seen: 0 new, {sources} already stored" in again.stdout
    assert counts(db_url) == after_first

    engine = sa.create_engine(db_url)
    with session_factory(engine)() as session:
        for path in in_mbox + in_maildir + in_subfolder:
            raw = session.scalar(sa.select(RawMessage).where(
                RawMessage.sha256 == sha(path.read_bytes())))
            assert raw is not None, path.name
            assert raw.original() == path.read_bytes(), path.name
            # mbox: the message's index; maildir: its key, prefixed with the Maildir++ folder
            where = sorted((s.source_type, Path(s.location).name,
                            s.key if s.source_type == "mbox" else s.key.rpartition("/")[0])
                           for s in raw.sources)
            expected = []
            if path in in_mbox:
                expected.append(("mbox", "inbox.mbox", str(in_mbox.index(path))))
            if path in in_maildir:
                expected.append(("maildir", "Maildir", ""))
            if path in in_subfolder:
                expected.append(("maildir", "Maildir", ".Archief"))
            assert where == sorted(expected), path.name
        messages = session.scalar(sa.select(sa.func.count()).select_from(Message))
        assert messages == len(distinct)
    engine.dispose()


def test_same_message_from_two_sources_through_ingest(db_url: str, tmp_path: Path) -> None:
    data = GOLDEN[0].read_bytes()
    engine = open_database(db_url)
    sessions = session_factory(engine)
    items = [RawItem(data, "file", "/mail/a.eml"), RawItem(data, "mbox", "/mail/b.mbox", "7"),
             RawItem(data, "file", "/mail/a.eml")]  # the first source seen again
    summary = ingest(sessions, items, SETTINGS)
    assert (summary.seen, summary.new, summary.known, summary.coded) == (3, 1, 2, 1)
    with sessions() as session:
        (raw,) = session.scalars(sa.select(RawMessage)).all()
        assert raw.original() == data
        assert sorted((s.source_type, s.location, s.key) for s in raw.sources) == [
            ("file", "/mail/a.eml", ""), ("mbox", "/mail/b.mbox", "7")]
    engine.dispose()
    assert counts(db_url)["messages"] == 1


def test_same_message_id_other_bytes_and_missing_ids(db_url: str) -> None:
    head = (b"From: Ann Wuyts <ann.wuyts@example.org>\r\nTo: info@fibrores.org\r\n"
            b"Subject: Re: Vier vragen\r\nDate: Mon, 4 Mar 2024 10:00:00 +0100\r\n")
    first = head + b"Message-ID: <same@example.org>\r\n\r\nIk neem LDN sinds een jaar.\r\n"
    resent = (b"Received: from relay.example.org by mx.fibrores.org\r\n" + first)
    no_id_a = head + b"\r\nIk neem geen LDN.\r\n"
    no_id_b = head + b"\r\nIk neem geen LDN meer.\r\n"
    engine = open_database(db_url)
    sessions = session_factory(engine)
    summary = ingest(sessions, [RawItem(d, "file", f"/mail/{i}.eml")
                                for i, d in enumerate([first, resent, no_id_a, no_id_b])],
                     SETTINGS)
    assert (summary.new, summary.duplicate_id, summary.coded) == (4, 1, 3)
    with sessions() as session:
        raws = {r.sha256: r for r in session.scalars(sa.select(RawMessage))}
        assert {raws[sha(first)].message_id, raws[sha(resent)].message_id} == {"same@example.org"}
        assert raws[sha(no_id_a)].message_id == "missing-" + sha(no_id_a)[:16]
        assert raws[sha(no_id_b)].message_id == "missing-" + sha(no_id_b)[:16]
        messages = {m.message_id: m for m in session.scalars(sa.select(Message))}
        assert sorted(messages) == sorted(["same@example.org", "missing-" + sha(no_id_a)[:16],
                                           "missing-" + sha(no_id_b)[:16]])
        assert messages["same@example.org"].raw_id == raws[sha(first)].id
    engine.dispose()
    assert counts(db_url) == {"raw_messages": 4, "raw_sources": 4, "messages": 3,
                              "responses": 3}


# --------------------------------------------------------------------------- not mail, broken
GARBAGE = bytes(range(256)) * 8 + b"\x00\xff\xfe not an e-mail \x89PNG"


def test_skipped_files_and_quarantine(env: Path, runner: CliRunner, db_url: str,
                                      tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    (mail / "sub").mkdir(parents=True)
    good = mail / "sub" / "antwoord.eml"
    shutil.copyfile(GOLDEN[0], good)
    (mail / "leeg.eml").write_bytes(b"")
    (mail / "boodschappen.txt").write_text("melk\nbrood\nkaas\n", encoding="utf-8")
    (mail / "foto.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(500))
    (mail / "kapot.eml").write_bytes(GARBAGE)
    garbage_id = "missing-" + sha(GARBAGE)[:16]

    result = invoke(runner, db_url, "import", str(mail), code=6)
    assert "warning: skipped" in result.stderr
    assert f"{mail / 'leeg.eml'}: empty file" in result.stderr
    assert f"{mail / 'boodschappen.txt'}: not an e-mail" in result.stderr
    assert f"{mail / 'foto.jpg'}: not an e-mail" in result.stderr
    assert "error: 1 message(s) quarantined" in result.stderr
    assert "2 seen: 2 new" in result.stdout
    assert "3 files skipped" in result.stdout
    assert counts(db_url) == {"raw_messages": 2, "raw_sources": 2, "messages": 2,
                              "responses": 1}

    engine = sa.create_engine(db_url)
    with session_factory(engine)() as session:
        stored = {r.message_id: r for r in session.scalars(sa.select(RawMessage))}
        assert stored[garbage_id].original() == GARBAGE
        assert stored[expected_id(GOLDEN[0])].original() == good.read_bytes()
        broken = session.scalar(sa.select(Message).where(Message.message_id == garbage_id))
        assert broken is not None
        assert broken.parse_status == "parse_error"
        assert broken.parse_error
        locations = {Path(s.location).name for s in session.scalars(sa.select(RawSource))}
        assert locations == {"antwoord.eml", "kapot.eml"}
    engine.dispose()

    listed = invoke(runner, db_url, "errors").stdout
    assert garbage_id in listed
    assert expected_id(GOLDEN[0]) not in listed
    (row,) = [json.loads(line) for line in
              invoke(runner, db_url, "errors", "--format", "jsonl").stdout.splitlines()]
    assert (row["message_id"], row["sha256"], row["size"]) == (garbage_id, sha(GARBAGE),
                                                              len(GARBAGE))
    # nothing new is quarantined by a second run: success, nothing added
    again = invoke(runner, db_url, "import", "--quiet", str(mail))
    assert again.stdout == ""
    assert counts(db_url)["raw_messages"] == 2


# --------------------------------------------------------------------------- big and odd
ATTACHMENT_BYTES = 25 * 1024 * 1024


@pytest.fixture(scope="module")
def big_message(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A message with a 25 MB attachment, written once for the module."""
    blob = os.urandom(ATTACHMENT_BYTES)
    path = tmp_path_factory.mktemp("big") / "scan.eml"
    with path.open("wb") as out:
        out.write(b"From: Piet Segers <piet.segers@example.org>\r\nTo: info@fibrores.org\r\n"
                  b"Subject: Re: Vier vragen (scan in bijlage)\r\n"
                  b"Message-ID: <big-attachment@example.org>\r\nMIME-Version: 1.0\r\n"
                  b'Content-Type: multipart/mixed; boundary="big"\r\n\r\n--big\r\n'
                  b"Content-Type: text/plain; charset=utf-8\r\n\r\nZie de scan in bijlage.\r\n"
                  b"--big\r\nContent-Type: application/octet-stream\r\n"
                  b'Content-Disposition: attachment; filename="scan.tiff"\r\n'
                  b"Content-Transfer-Encoding: base64\r\n\r\n")
        out.write(base64.encodebytes(blob).replace(b"\n", b"\r\n"))
        out.write(b"--big--\r\n")
    return path


def test_25_mb_attachment_is_stored_byte_for_byte(env: Path, runner: CliRunner, db_url: str,
                                                  big_message: Path) -> None:
    invoke(runner, db_url, "import", "--quiet", str(big_message))
    data = big_message.read_bytes()
    engine = sa.create_engine(db_url)
    with session_factory(engine)() as session:
        (raw,) = session.scalars(sa.select(RawMessage)).all()
        assert raw.size == len(data)
        assert raw.sha256 == sha(data)
        assert raw.original() == data
        message = session.scalar(sa.select(Message))
        assert message is not None
        assert message.parse_status == "ok"
        (attachment,) = message.attachments
        assert (attachment["filename"], attachment["size"]) == ("scan.tiff", ATTACHMENT_BYTES)
    engine.dispose()


def test_nul_bytes_are_stored_byte_for_byte(db_url: str) -> None:
    data = (b"From: Lien Aerts <lien.aerts@example.org>\r\nTo: info@fibrores.org\r\n"
            b"Subject: Re:\x00 LDN\r\nMessage-ID: <nul\x00@example.org>\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\nJa\x00, ik neem LDN.\x00\r\n")
    engine = open_database(db_url)
    try:
        sessions = session_factory(engine)
        summary = ingest(sessions, [RawItem(data, "file", "/mail/nul.eml")], SETTINGS)
        assert (summary.new, summary.quarantined) == (1, 0)
        with sessions() as session:
            (raw,) = session.scalars(sa.select(RawMessage)).all()
            assert (raw.original(), raw.message_id) == (data, "nul@example.org")
            (message,) = session.scalars(sa.select(Message)).all()
            assert (message.message_id, message.parse_status, message.subject) == (
                "nul@example.org", "ok", "Re: LDN")
            assert "\x00" not in (message.own_text or "")
    finally:
        engine.dispose()
