"""Privacy: no identity in any view or export, erasure (`forget`), retention (`purge`),
and the PostgreSQL analyst role that can read the views only.
"""

from __future__ import annotations

import importlib.util
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from analyst_data import KEY, ROOT, identities, leak_finder, loaded_url, set_coding
from conftest import run_cli
from sqlalchemy.orm import Session

from ldn_inbox.flow.pipeline import Settings, ingest
from ldn_inbox.parse.message_ids import hash_message_id, sha256_hex
from ldn_inbox.serve.views import VIEW_NAMES
from ldn_inbox.sources.base import RawItem
from ldn_inbox.store.db import open_database, session_factory
from ldn_inbox.store.models import (
    AuditEntry,
    Contact,
    Correction,
    Extraction,
    ImapLedger,
    Message,
    RawMessage,
    RawSource,
    Response,
    Tombstone,
)
from ldn_inbox.store.privacy import respondent_id
from ldn_inbox.store.rawstore import store

MIGRATION = ROOT / "alembic" / "versions" / "0003_analyst_views.py"
ROLE_SCRIPT = ROOT / "sql" / "analyst_role.sql"


def invoke(runner: Any, url: str, *args: str, input: str | None = None) -> Any:
    """Run the CLI on ``url`` (the exit code is the caller's to check)."""
    return run_cli(runner, args, db=url, code=None, input=input)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    return loaded_url(
        request.param, lambda: tmp_path_factory.mktemp("analysts"),
        lambda name: request.getfixturevalue("postgres").create_database(name),
    )


@pytest.fixture
def keyed_env(env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The isolated environment with the key the test data was imported with."""
    key_file = tmp_path / "pseudonym.key"
    key_file.write_text(KEY.hex() + "\n")
    key_file.chmod(0o600)
    monkeypatch.setenv("LDN_INBOX_PRIVACY_KEY_FILE", str(key_file))
    monkeypatch.setenv("LDN_INBOX_REVIEWER", "dpo")
    return env


# --------------------------------------------------------------------------- no identities
def test_view_sql_never_reads_identity_columns() -> None:
    spec = importlib.util.spec_from_file_location("analyst_views", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.VIEWS) == set(VIEW_NAMES)
    for name, sql in module.VIEWS.items():
        for forbidden in ("contacts", "address", "display_name", "subject", "own_text",
                          "quoted_text", "quoted_packed", "learn_text", "learn_packed",
                          "raw_messages", "failed_recipient", "evidence",
                          "message_id", "audit_log"):
            assert not re.search(rf"\b{forbidden}\b", sql), f"{name} reads {forbidden}"


@pytest.mark.shared
def test_no_view_or_export_shows_a_sender(loaded: str, shared_dir: Path, runner: Any,
                                          keyed_env: Path, tmp_path: Path) -> None:
    """Dev set + fixtures: no address, display name or phone number in any output."""
    assert (shared_dir / "survey" / "dev" / "eml").is_dir()
    engine = open_database(loaded)
    with Session(engine) as session:
        addresses, names, phones = identities(session)
        outputs: dict[str, str] = {}
        for view in VIEW_NAMES:
            rows = session.execute(sa.text(f"SELECT * FROM {view}")).all()
            outputs[f"view {view}"] = "\n".join("\t".join(map(str, row)) for row in rows)
    engine.dispose()
    # The test data must hold senders and phone numbers to look for.
    assert len(addresses) >= 40
    assert len(names) >= 40
    assert len(phones) >= 3
    files = {
        "export.jsonl": ["export", "-f", "jsonl"],
        "export.csv": ["export", "-f", "csv"],
        "export.xlsx": ["export", "-f", "xlsx"],
        "respondents.csv": ["export", "--view", "respondents", "-f", "csv"],
        "report.html": ["report"],
    }
    for name, args in files.items():
        path = tmp_path / name
        result = invoke(runner, loaded, *args, "--output", str(path))
        assert result.exit_code == 0, result.output
        outputs[name] = _file_text(path)
    result = invoke(runner, loaded, "stats", "--unit", "replies")
    assert result.exit_code == 0, result.output
    outputs["stats"] = result.stdout
    try:
        import pyreadstat  # noqa: F401
    except ImportError:
        pass
    else:
        for fmt in ("dta", "sav"):
            path = tmp_path / f"survey.{fmt}"
            assert invoke(runner, loaded, "export", "-f", fmt, "-o", str(path)).exit_code == 0
            outputs[path.name] = path.read_bytes().decode("latin-1")
    leaks = leak_finder(addresses, names, phones)
    found = {name: leaks(text) for name, text in outputs.items()}
    assert not {name: hits for name, hits in found.items() if hits}


def _file_text(path: Path) -> str:
    if path.suffix == ".xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True)
        text = "\n".join("\t".join("" if v is None else str(v) for v in row)
                         for sheet in workbook for row in sheet.iter_rows(values_only=True))
        workbook.close()
        return text
    return path.read_text("utf-8-sig")


# --------------------------------------------------------------------------- forget
def _mail(sender: str, message_id: str, body: str, *, name: str = "Jan Peeters",
          date: str = "Tue, 05 Mar 2024 09:00:00 +0100") -> bytes:
    return (
        f"From: {name} <{sender}>\r\nTo: info@fibrores.org\r\n"
        f"Subject: Re: enquete naltrexone\r\nDate: {date}\r\n"
        f"Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


JAN = "Jan.Peeters@Example.org"
FIRST = _mail(JAN, "jan-1@example.org",
              "1. ja\n2. de huisarts\n3. ja, minder pijn\n4. neen\n\nJan\nGSM 0476 11 22 33")
FOLLOW_UP = _mail(JAN, "jan-2@example.org", "Het was de reumatoloog.",
                  date="Wed, 06 Mar 2024 10:00:00 +0100")
OTHER = _mail("els@example.org", "els-1@example.org", "1. nee", name="Els Maes")
LOOSE = _mail(JAN, "jan-3@example.org", "nog een vraag")


def _items(*blobs: bytes) -> list[RawItem]:
    return [RawItem(data=blob, source_type="file", location=f"/tmp/mail/{i}.eml")
            for i, blob in enumerate(blobs)]


def _seed(db_url: str) -> dict[str, Any]:
    """Jan's two replies (with a correction, audit rows and an IMAP ledger link), Els's
    reply, a bounce naming Jan, and a raw message from Jan that was never parsed."""
    engine = open_database(db_url)
    sessions = session_factory(engine)
    ingest(sessions, _items(FIRST, FOLLOW_UP, OTHER), Settings(pseudonym_key=KEY))
    with sessions() as session:
        jan = session.scalars(sa.select(Message).where(
            Message.message_id == "jan-1@example.org")).one()
        set_coding(session, jan, {"kind": "reply", "ldn_use": "current"})
        session.add(AuditEntry(message_pk=jan.id, message_id=jan.message_id, action="set",
                               field="ldn_use", old_value={"v": "unknown"},
                               new_value={"v": "current"}, reviewer="vol",
                               note="phoned Jan to check"))
        session.add(ImapLedger(account="default", folder="INBOX", uidvalidity=1, uid=7,
                               raw_id=jan.raw_id, status="stored"))
        bounce = Message(message_id="bounce-1@mail.example.org", parse_status="ok",
                         failed_recipient="jan.peeters@example.org",
                         received_at=datetime(2024, 3, 5, tzinfo=UTC))
        session.add(bounce)
        store(session, _items(LOOSE)[0])
        session.commit()
    engine.dispose()
    return {"pseudonym": respondent_id(JAN, KEY)}


def _counts(db_url: str) -> dict[str, int]:
    engine = open_database(db_url)
    with Session(engine) as session:
        counts = {model.__tablename__: int(session.scalar(
            sa.select(sa.func.count()).select_from(model)) or 0)
            for model in (Contact, Message, RawMessage, RawSource, Extraction, Correction,
                          Response, AuditEntry, Tombstone)}
    engine.dispose()
    return counts


def test_forget_erases_a_respondent(db_url: str, runner: Any, keyed_env: Path) -> None:
    seeded = _seed(db_url)
    before = _counts(db_url)

    dry = invoke(runner, db_url, "forget", "--dry-run", JAN)
    assert dry.exit_code == 0, dry.output
    assert _counts(db_url) == before, "a dry run changes nothing"

    result = invoke(runner, db_url, "forget", JAN, input="y\n")
    assert result.exit_code == 0, result.output
    assert "  messages: 3" in result.stdout
    assert "raw messages: 3" in result.stdout
    assert "contacts: 1" in result.stdout
    for secret in ("jan", "peeters", "0476"):
        assert secret not in result.output.lower(), "counts only, never content"

    engine = open_database(db_url)
    with Session(engine) as session:
        assert session.get(Contact, seeded["pseudonym"]) is None
        left = set(session.scalars(sa.select(Message.message_id)))
        assert left == {"els-1@example.org"}, "Els's reply stays"
        assert session.scalar(sa.select(sa.func.count()).select_from(RawMessage)) == 1
        audit = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
        blanked = [a for a in audit if a.field == "ldn_use"]
        assert blanked
        for entry in blanked:
            assert (entry.action, entry.old_value, entry.new_value, entry.message_id,
                    entry.note) == ("erase", None, None, None, None)
        assert any(a.action == "erase" and a.note and a.note.startswith("forget:")
                   for a in audit)
        ledger = session.scalars(sa.select(ImapLedger)).one()
        assert (ledger.raw_id, ledger.status) == (None, "forgotten")
        hashes = set(session.scalars(sa.select(Tombstone.sha256)))
        assert {sha256_hex(FIRST), sha256_hex(FOLLOW_UP), sha256_hex(LOOSE)} <= hashes
        id_hashes = set(session.scalars(sa.select(Tombstone.message_id_hash)))
        assert hash_message_id("jan-1@example.org") in id_hashes
        assert all(t.forgotten_at is not None for t in session.scalars(sa.select(Tombstone)))
        dump = "\n".join(str(row) for table in ("contacts", "messages", "raw_sources",
                                                  "audit_log", "responses")
                         for row in session.execute(sa.text(f"SELECT * FROM {table}")))
        assert "peeters" not in dump.lower()

    # The same message again, as the same bytes or re-sent with other bytes: not re-added.
    resent = FIRST.replace(b"minder pijn", b"veel minder pijn")
    summary = ingest(session_factory(engine), _items(FIRST, resent),
                     Settings(pseudonym_key=KEY))
    engine.dispose()
    assert (summary.forgotten, summary.new) == (2, 0)
    assert _counts(db_url)["messages"] == 1

    again = invoke(runner, db_url, "forget", "--yes", JAN)
    assert again.exit_code == 8, again.output


def test_forget_needs_an_address_and_confirmation(db_url: str, runner: Any,
                                                  keyed_env: Path) -> None:
    _seed(db_url)
    before = _counts(db_url)
    assert invoke(runner, db_url, "forget", "not-an-address").exit_code == 2
    declined = invoke(runner, db_url, "forget", JAN, input="n\n")
    assert declined.exit_code != 0
    assert _counts(db_url) == before
    piped = invoke(runner, db_url, "forget", "--yes", "-", input=JAN + "\n")
    assert piped.exit_code == 0, piped.output
    assert _counts(db_url)["contacts"] == 1


# --------------------------------------------------------------------------- purge
def test_purge_drops_raw_bytes_and_quotes_but_keeps_the_record(
        db_url: str, runner: Any, keyed_env: Path) -> None:
    quoted = _mail("els@example.org", "els-2@example.org",
                   "1. ja\n\nOp 1 maart schreef FibroRes:\n> Gebruikt U Naltrexone?",
                   name="Els Maes")
    engine = open_database(db_url)
    sessions = session_factory(engine)
    ingest(sessions, _items(FIRST, quoted, OTHER), Settings(pseudonym_key=KEY))
    with sessions() as session:
        store(session, _items(LOOSE)[0])  # stored, never coded
        old = datetime.now(UTC) - timedelta(days=120)
        session.execute(sa.update(RawMessage).where(RawMessage.message_id.in_(
            ["jan-1@example.org", "els-2@example.org", "jan-3@example.org"]))
            .values(first_seen_at=old))
        for message in session.scalars(sa.select(Message)):
            message.quoted_text = ("> Gebruikt U Naltrexone?"
                                   if message.message_id == "els-2@example.org" else None)
        before = {m.message_id: (m.own_text, session.get(Response, m.id) is not None)
                  for m in session.scalars(sa.select(Message))}
        session.commit()

    assert invoke(runner, db_url, "purge", "--raw-older-than", "3 months").exit_code == 2
    dry = invoke(runner, db_url, "purge", "--raw-older-than", "90d", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "raw messages: 2" in dry.stdout
    result = invoke(runner, db_url, "purge", "--raw-older-than", "90d")
    assert result.exit_code == 0, result.output
    assert "raw messages: 2" in result.stdout
    assert "kept uncoded: 1" in result.stdout
    assert "quoted texts: 1" in result.stdout

    with sessions() as session:
        raws = {r.message_id: r for r in session.scalars(sa.select(RawMessage))}
        assert raws["jan-1@example.org"].stored is None
        assert raws["jan-1@example.org"].purged_at is not None
        assert raws["els-2@example.org"].stored is None
        assert raws["els-1@example.org"].original() == OTHER, "recent: kept"
        assert raws["jan-3@example.org"].original() == LOOSE, "not coded: kept"
        for message in session.scalars(sa.select(Message)):
            assert (message.own_text, session.get(Response, message.id) is not None) \
                == before[message.message_id], "coded record and own text stay"
        assert session.execute(sa.select(Message.quoted_packed, Message.quoted_plain).where(
            Message.message_id == "els-2@example.org")).one() == (None, None)
        assert session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "purge")).one()
    # Importing the purged bytes again changes nothing.
    summary = ingest(sessions, _items(FIRST), Settings(pseudonym_key=KEY))
    assert (summary.new, summary.known) == (0, 1)
    with sessions() as session:
        assert session.scalars(sa.select(RawMessage.stored).where(
            RawMessage.message_id == "jan-1@example.org")).one() is None
    engine.dispose()


# --------------------------------------------------------------------------- analyst role
@pytest.mark.postgres
def test_analyst_role_reads_the_views_only(postgres: Any) -> None:
    import psycopg

    name = "t_role_" + uuid.uuid4().hex[:8]
    url = postgres.create_database(name)
    try:
        engine = open_database(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(ROLE_SCRIPT.read_text("utf-8"))
            conn.exec_driver_sql(ROLE_SCRIPT.read_text("utf-8"))  # idempotent
        engine.dispose()
        login = "analyst_" + uuid.uuid4().hex[:8]
        postgres.psql(f"CREATE ROLE {login} LOGIN PASSWORD 'pw-{login}' IN ROLE ldn_analyst")
        try:
            dsn = (f"host={postgres.host} port={postgres.port} user={login} "
                   f"password=pw-{login} dbname={name}")
            with psycopg.connect(dsn, autocommit=True) as conn:
                for view in VIEW_NAMES:
                    conn.execute(f"SELECT * FROM {view}").fetchall()
                for table in ("messages", "contacts", "raw_messages", "responses",
                              "audit_log", "extractions", "corrections", "tombstones"):
                    with pytest.raises(psycopg.errors.InsufficientPrivilege):
                        conn.execute(f"SELECT * FROM {table}")
                for view in VIEW_NAMES:
                    row = conn.execute("SELECT has_table_privilege(%s, 'SELECT'), "
                                       "has_table_privilege(%s, 'INSERT, UPDATE, DELETE')",
                                       (view, view)).fetchone()
                    assert row == (True, False), view
        finally:
            postgres.psql(f"DROP ROLE {login}")
    finally:
        postgres.drop_database(name)
