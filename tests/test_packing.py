"""The packed store: raw bytes zlib-compressed when that is smaller, quoted and learn texts
kept compressed, rows of the older plain schema still read, the migration both ways with
data, purge and forget leave nothing behind, and the database stays small beside the mailbox."""

from __future__ import annotations

import importlib.util
import mailbox
import os
import random
import sys
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import FIXTURES, ROOT, run_cli
from typer.testing import CliRunner

from ldn_inbox.errors import DatabaseError
from ldn_inbox.sources.base import RawItem
from ldn_inbox.store import mailing_store
from ldn_inbox.store.db import downgrade, make_engine, open_database, session_factory, upgrade
from ldn_inbox.store.models import Extraction, Message, RawMessage
from ldn_inbox.store.packing import ZLIB, needs_text, pack, pack_text, unpack, unpack_text
from ldn_inbox.store.rawstore import store


def _survey_message() -> Any:
    """bench/imap_bench.py's generator of 2-30 KB survey replies (one source of test mail)."""
    spec = importlib.util.spec_from_file_location("imap_bench", ROOT / "bench" / "imap_bench.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["imap_bench"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.survey_message


survey_message = _survey_message()


def reply(n: int) -> bytes:
    """A survey reply that compresses well (own words, then the quoted questionnaire)."""
    return survey_message(n, random.Random(n))


def noise(n: int) -> bytes:
    """A message whose body is random bytes: zlib cannot make it smaller."""
    body = os.urandom(6000)
    return (f"From: Noise <noise{n}@example.org>\r\nSubject: ruis\r\n"
            f"Message-ID: <noise-{n}@example.org>\r\n\r\n").encode() + body


def write_eml(directory: Path, messages: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in messages.items():
        (directory / f"{name}.eml").write_bytes(data)
    return directory


def raw_bytes(runner: CliRunner, url: str, message_id: str) -> bytes:
    return run_cli(runner, ["raw", message_id], db=url).stdout_bytes


def test_pack_chooses_the_smaller_form() -> None:
    text = reply(1)
    stored, codec = pack(text)
    assert (codec, len(stored) < len(text) // 2) == (ZLIB, True)
    assert unpack(stored, codec) == text
    random_bytes = os.urandom(4000)
    assert pack(random_bytes) == (random_bytes, None)
    assert unpack(None, ZLIB) is None


QUOTED = "Groeten,\nAn\n> Beste lid,\n> Gebruikt u LDN?\n>\n> Wie schreef het voor?\n> > Oud"


@pytest.mark.parametrize(("learn", "as_lines"), [
    ("Beste lid,\nGebruikt u LDN?", True),      # a run of quoted lines, marks off
    ("Gebruikt u LDN?\n\nWie schreef het voor?", False),  # a bare ">" stays: no "> "
    ("> Oud", True),                              # a deeper quote keeps its inner mark
    ("Groeten,\nAn\nBeste lid,", False),         # lines without a mark
    ("Beste lid,\nGebruikt u", False),            # the end of a line missing
    ("Beste lid", False),                         # ... with only one line
    ("Gebruikt u LDN?\nja\nWie schreef het voor?", False),  # an inline answer between
    ("Gebruikt u", False),                        # part of a line only
    ("LDN?\n", False),                           # ends inside a line
    ("Wie schreef het voor?\nBeste lid,", False),  # out of order
    ("B\udce9ste \u2028lid", False),             # lone surrogates, a line separator
])
def test_learn_text_kept_as_lines_of_the_quoted_text_or_a_stream(learn: str,
                                                                 as_lines: bool) -> None:
    packed = pack_text(learn, QUOTED)
    assert packed is not None
    assert (packed[0] == 1, needs_text(packed)) == (as_lines, True)
    assert unpack_text(packed, against=QUOTED) == learn
    with pytest.raises(DatabaseError, match="quoted text"):
        unpack_text(packed, against="> iets anders")
    # a text kept on its own is a plain stream, whatever it holds
    alone = pack_text(learn)
    assert (needs_text(alone), unpack_text(alone)) == (False, learn)


def test_raw_gives_back_the_exact_bytes(db_url: str, env: Path, runner: CliRunner,
                                        tmp_path: Path) -> None:
    messages = {"reply": reply(7), "noise": noise(1)}
    run_cli(runner, ["import", "-q", str(write_eml(tmp_path / "eml", messages))], db=db_url,
            code=None)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = {message_id: (stored, codec, size) for message_id, stored, codec, size in
                conn.execute(sa.select(RawMessage.message_id, RawMessage.stored,
                                       RawMessage.codec, RawMessage.size))}
    engine.dispose()
    stored, codec, size = rows["bench-7@example.org"]
    assert (codec, len(stored) < size // 2) == (ZLIB, True)
    assert rows["noise-1@example.org"] == (messages["noise"], None, len(messages["noise"]))
    assert raw_bytes(runner, db_url, "<bench-7@example.org>") == messages["reply"]
    assert raw_bytes(runner, db_url, "noise-1@example.org") == messages["noise"]


def three_replies_imported(sqlite_url: str, runner: CliRunner, tmp_path: Path) -> sa.Engine:
    """Three survey replies imported with ``ldn-inbox import``; the database's engine."""
    messages = {f"r{n}": reply(n) for n in range(1, 4)}
    run_cli(runner, ["import", "-q", str(write_eml(tmp_path / "eml", messages))],
            db=sqlite_url, code=None)
    return open_database(sqlite_url)


def test_learn_text_refers_to_the_quoted_text(sqlite_url: str, env: Path, runner: CliRunner,
                                             tmp_path: Path) -> None:
    """The learn text (lines of the quoted text) takes a few bytes, not a second copy."""
    engine = three_replies_imported(sqlite_url, runner, tmp_path)
    with session_factory(engine)() as session:
        extractions = list(session.scalars(sa.select(Extraction)))
        assert len(extractions) == 3
        for extraction in extractions:
            learn, quoted = extraction.learn_text, extraction.message.quoted_text
            assert learn is not None
            assert quoted is not None
            assert all(line in quoted for line in learn.splitlines())
            assert extraction.learn_packed is not None
            assert len(extraction.learn_packed) < len(learn) // 10
        assert relearn_quotes(session) == {str(e.message_pk): e.learn_text for e in extractions}
        extractions[0].message.quoted_text = "> iets anders"
        with pytest.raises(DatabaseError, match="quoted text that changed"):
            _ = extractions[0].learn_text
    engine.dispose()


def test_learning_reads_each_learn_text_once_until_it_is_coded_again(
        sqlite_url: str, env: Path, runner: CliRunner, tmp_path: Path) -> None:
    """A run learns several times from mostly the same messages: the texts read once are
    kept, and a record coded again (a new ``coded_at``) is read again."""
    engine = three_replies_imported(sqlite_url, runner, tmp_path)
    with session_factory(engine)() as session:
        plain = mailing_store.learn_quotes(session)
        cache: mailing_store.LearnCache = {}
        assert mailing_store.learn_quotes(session, cache) == plain
        assert len(cache) == 3
        first = session.scalars(sa.select(Extraction).order_by(Extraction.message_pk)).first()
        assert first is not None
        # what the cache holds is what is used: a stale entry would show
        cache = {key: f"cached {key[0]}" for key in cache}
        assert {pk: text for pk, _, text in mailing_store.learn_quotes(session, cache)} == {
            str(key[0]): f"cached {key[0]}" for key in cache}
        # coded again: a new coded_at, a new learn text, read again
        first.learn_packed, first.learn_plain = (
            pack_text("> een andere regel", first.message.quoted_text), None)
        first.coded_at = first.coded_at + timedelta(seconds=1)
        session.flush()
        again = {pk: text for pk, _, text in mailing_store.learn_quotes(session, cache)}
        assert again[str(first.message_pk)] == "> een andere regel"
        assert len(cache) == 3, "the old entry was not dropped"
    engine.dispose()


def relearn_quotes(session: Any) -> dict[str, str]:
    """What ``mailing_store.relearn`` reads: the learn texts by record id."""
    return {pk: text for pk, _, text in mailing_store.learn_quotes(session)}


def _insert_old_rows(engine: sa.Engine, data: bytes) -> None:
    """A raw message, its record and extraction as revision 0007 wrote them (plain)."""
    now = datetime(2024, 3, 1, 10, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO raw_messages (id, sha256, size, data, message_id, first_seen_at) "
            "VALUES (1, :sha, :size, :data, 'old@example.org', :at)"),
            {"sha": "b" * 64, "size": len(data), "data": data, "at": now})
        conn.execute(sa.text(
            "INSERT INTO messages (id, message_id, raw_id, parse_status, own_text, "
            "quoted_text, attachments, parsed_at) VALUES (1, 'old@example.org', 1, 'ok', "
            "'ik gebruik LDN', '> Gebruikt U LDN?', '[]', :at)"), {"at": now})
        conn.execute(sa.text(
            "INSERT INTO extractions (message_pk, extractor_version, \"values\", confidence, "
            "evidence, review_fields, coded_at, knowledge, mailing_keys, unexplained, "
            "learn_text) VALUES (1, 'old', '{}', '{}', '{}', '[]', :at, '', '[]', 3, "
            "'> Gebruikt U LDN?')"), {"at": now})


def test_rows_of_the_plain_schema_are_read(db_url: str, env: Path, runner: CliRunner) -> None:
    engine = make_engine(db_url)
    upgrade(engine, "0007")
    old = reply(3).replace(b"bench-3@", b"old@")
    _insert_old_rows(engine, old)
    engine.dispose()
    engine = open_database(db_url)  # brought to head; the old rows are not rewritten
    sessions = session_factory(engine)
    with sessions() as session:
        raw = session.get(RawMessage, 1)
        assert raw is not None
        assert (raw.stored, raw.codec, raw.original()) == (old, None, old)
        message, extraction = session.get(Message, 1), session.get(Extraction, 1)
        assert message is not None
        assert extraction is not None
        assert (message.quoted_plain, message.quoted_packed) == ("> Gebruikt U LDN?", None)
        assert message.quoted_text == extraction.learn_text == "> Gebruikt U LDN?"
        message.quoted_text = "> Gebruikt U nog LDN?"  # written again: packed, plain cleared
        session.commit()
        assert message.quoted_plain is None
        assert message.quoted_packed is not None
        assert zlib.decompress(message.quoted_packed) == b"> Gebruikt U nog LDN?"
    engine.dispose()
    assert raw_bytes(runner, db_url, "old@example.org") == old


def test_migration_down_and_up_keeps_every_byte(db_url: str, env: Path, runner: CliRunner,
                                               tmp_path: Path) -> None:
    messages = {f"r{n}": reply(n) for n in range(1, 6)} | {"noise": noise(2)}
    run_cli(runner, ["import", "-q", str(write_eml(tmp_path / "eml", messages))], db=db_url,
            code=None)
    engine = open_database(db_url)
    with session_factory(engine)() as session:
        quoted = {m.message_id: m.quoted_text for m in session.scalars(sa.select(Message))}
        learn = {e.message_pk: e.learn_text for e in session.scalars(sa.select(Extraction))}
        packed = session.scalar(sa.select(sa.func.count()).where(RawMessage.codec == ZLIB))
    assert (len(quoted), packed) == (6, 5)
    assert any(text for text in quoted.values()), "some quoted text to carry over"
    assert any(text for text in learn.values()), "some learn text to carry over"

    def learn_packed() -> dict[int, bytes]:
        with engine.connect() as conn:
            return {pk: bytes(packed) for pk, packed in conn.execute(sa.text(
                "SELECT message_pk, learn_packed FROM extractions "
                "WHERE learn_packed IS NOT NULL"))}

    with engine.connect() as conn:
        replies = set(conn.execute(sa.text(
            "SELECT id FROM messages WHERE message_id LIKE 'bench-%'")).scalars())
    # (the noise message's random bytes may hold quoted lines of any shape)
    assert {packed[0] for pk, packed in learn_packed().items() if pk in replies} == {1}, \
        "the replies' learn texts kept as lines"
    downgrade(engine, "0008")  # as lines of the quoted text no more: streams 0008 reads
    with session_factory(engine)() as session:
        assert {e.message_pk: e.learn_text for e in session.scalars(sa.select(Extraction))} \
            == learn
    assert all(needs_text(packed) and packed[0] != 1 for packed in learn_packed().values())
    downgrade(engine, "0007")
    with engine.connect() as conn:
        assert "codec" not in {c["name"] for c in sa.inspect(conn).get_columns("raw_messages")}
        plain = dict(conn.execute(sa.text("SELECT message_id, data FROM raw_messages")).all())
        assert plain == {m.split(b"Message-ID: <")[1].split(b">")[0].decode(): m
                         for m in messages.values()}
        assert dict(conn.execute(sa.text("SELECT message_id, quoted_text FROM messages"))
                    .all()) == quoted, "the quoted texts, plain, and no record lost"
        assert dict(conn.execute(sa.text("SELECT message_pk, learn_text FROM extractions"))
                    .all()) == learn
    upgrade(engine)
    engine.dispose()
    for message_id, data in plain.items():
        assert raw_bytes(runner, db_url, message_id) == data


def test_purge_and_forget_leave_nothing(sqlite_url: str, env: Path, runner: CliRunner,
                                        tmp_path: Path) -> None:
    engine = three_replies_imported(sqlite_url, runner, tmp_path)
    sessions = session_factory(engine)
    loose = reply(9).replace(b"r9@example.org", b"loose@example.org")
    with sessions() as session:
        stored = store(session, RawItem(loose, "file", "loose.eml"))  # never coded
        assert stored.status == "new"
        assert session.scalar(sa.select(RawMessage.codec)
                              .where(RawMessage.id == stored.raw_id)) == ZLIB
        session.execute(sa.update(RawMessage).values(
            {RawMessage.first_seen_at: datetime.now(UTC) - timedelta(days=200)}))
        session.commit()
    run_cli(runner, ["purge", "--raw-older-than", "90d"], db=sqlite_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(RawMessage.message_id, RawMessage.stored,
                                      RawMessage.codec).order_by(RawMessage.id)).all()
        assert [(m, s is None, c) for m, s, c in rows] == [
            *((f"bench-{n}@example.org", True, None) for n in range(1, 4)),
            ("bench-9@example.org", False, ZLIB)], "coded: dropped; never coded: kept"
        assert conn.execute(sa.select(Message.quoted_packed, Message.quoted_plain)).all() \
            == [(None, None)] * 3
        assert conn.execute(sa.select(Extraction.learn_packed, Extraction.learn_plain)) \
            .all() == [(None, None)] * 3
    # the never coded message is kept by purge, compressed; forget finds its sender in it
    run_cli(runner, ["forget", "--yes", "loose@example.org"], db=sqlite_url)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).where(
            RawMessage.message_id == "bench-9@example.org")) == 0
    engine.dispose()


def _mailbox_size(directory: Path, count: int) -> int:
    """A maildir as the benchmark's (``count`` survey replies of 2-30 KB) with the fixture
    e-mails of more than 4 KB among them; returns its bytes."""
    box = mailbox.Maildir(directory, create=True)
    rng = random.Random(20240101)
    messages = [survey_message(n, rng) for n in range(1, count + 1)]
    messages += [data for path in sorted(FIXTURES.glob("*.eml"))
                 if len(data := path.read_bytes()) > 4000]
    for data in messages:
        box.add(data)
    return sum(len(data) for data in messages)


def test_database_is_smaller_than_1_3_times_the_mailbox(sqlite_url: str, env: Path,
                                                        runner: CliRunner,
                                                        tmp_path: Path) -> None:
    size = _mailbox_size(tmp_path / "Maildir", 80)
    run_cli(runner, ["import", "-q", str(tmp_path / "Maildir")], db=sqlite_url, code=None)
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    on_disk = sum(p.stat().st_size for p in database.parent.glob(database.name + "*"))
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(RawMessage)) > 100
    engine.dispose()
    assert on_disk / size < 1.3, f"database {on_disk} bytes for a {size}-byte mailbox"
