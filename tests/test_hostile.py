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
from typer.testing import CliRunner

from ldn_inbox.cli import STATE, app
from ldn_inbox.db import open_database, session_factory
from ldn_inbox.models import Contact, Message, RawMessage, RawSource
from ldn_inbox.privacy import load_key, respondent_id


def invoke(runner: CliRunner, url: str, *args: str, code: int | None = 0,
           input: str | None = None) -> Any:
    """Run ``ldn-inbox --db url ARGS`` in-process; check the exit code unless None."""
    try:
        result = runner.invoke(app, ["--db", url, *args], input=input)
    finally:
        if STATE._context is not None:
            STATE._context.close()
    if code is not None:
        assert result.exit_code == code, (
            f"{args}: exit {result.exit_code}\nstdout: {result.stdout}\n"
            f"stderr: {result.stderr}\n{result.exception!r}")
    return result


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
