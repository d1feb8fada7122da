"""A look at a SQLite database with the ``sqlite3`` module alone: whether a fetch has
anything to do besides asking the server for new mail.

The nightly fetch with nothing new spends most of its time importing SQLAlchemy and the
ORM models. Before that, :func:`look` asks the same questions the full run's steps ask
(in one read transaction, writing nothing) and names the first that has work:

* the schema is not at the newest migration (the full run migrates);
* the pseudonym key's fingerprint is not the one recorded (the full run records or refuses
  it: :func:`ldn_inbox.store.privacy.checked_key`);
* raw messages without a record (:func:`ldn_inbox.flow.pipeline.code_uncoded`);
* ``imap.after`` actions pending for the folder, under any UIDVALIDITY (the full run
  applies or drops them);
* records coded with other knowledge of the mailings than the active ones give
  (:func:`ldn_inbox.store.mailing_store.stale`, ``mark_current``);
* lexicon overlays whose records are not re-coded yet
  (:func:`ldn_inbox.store.overlays.pending`).

What it cannot read, or reads as anything unexpected, counts as work too: the full run then
does what it always does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ldn_inbox.store.keyfile import FINGERPRINT_FACT

#: Fingerprint of the knowledge the active mailings' texts give
#: (:attr:`ldn_inbox.parse.mailings.MailingSet.fingerprint`).
Fingerprint = Callable[[Sequence[str]], str]


@dataclass(frozen=True)
class Ledger:
    """What the ledger holds for one (account, folder) and UIDVALIDITY."""

    last_uid: int
    failed: bool


@dataclass(frozen=True)
class Look:
    """The answer of :func:`look`: ``work`` names what the full run has to do (None:
    nothing), ``ledgers`` the folder's ledger by UIDVALIDITY."""

    work: str | None
    ledgers: dict[int, Ledger] = field(default_factory=dict)


def mailing_fingerprint(texts: Sequence[str]) -> str:
    """The fingerprint a run codes with, given the active mailings' texts (the parser is
    loaded only when there are mailings)."""
    if not texts:
        return ""
    from ldn_inbox.parse.mailings import Mailing, MailingSet

    return MailingSet(Mailing(text) for text in texts).fingerprint


#: (what the full run would do, a query that returns a row when it has to)
_WORK = (
    # through the Message-ID indexes: the table itself (the raw bytes) is read only for
    # a message without a record
    ("code raw messages stored without a record",
     "SELECT 1 FROM raw_messages r INDEXED BY ix_raw_messages_message_id WHERE NOT EXISTS"
     " (SELECT 1 FROM messages m WHERE m.message_id = r.message_id) AND r.data IS NOT NULL"
     " LIMIT 1"),
    ("re-code records for lexicon overlays",
     "SELECT 1 FROM lexicon_overlays WHERE recoded_at IS NULL LIMIT 1"),
)


def look(path: Path, *, account: str, folder: str, head: str, key_fingerprint: str,
         fingerprint: Fingerprint = mailing_fingerprint) -> Look:
    """What a fetch of ``account``/``folder`` into the SQLite file ``path`` has to do before
    asking the server (see the module's text). ``head``: the newest migration;
    ``key_fingerprint``: that of the pseudonym key the run would use."""
    if not path.is_file():
        return Look("create the database")
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    except sqlite3.Error as exc:
        return Look(f"open the database ({exc})")
    try:
        conn.execute("BEGIN")  # one snapshot for every question; a reader takes no lock in WAL
        return _look(conn, account, folder, head, key_fingerprint, fingerprint)
    except sqlite3.Error as exc:
        return Look(f"read the database ({exc})")
    finally:
        conn.close()


def _one(conn: sqlite3.Connection, sql: str, *args: object) -> object:
    row = conn.execute(sql, args).fetchone()
    return None if row is None else row[0]


def _look(conn: sqlite3.Connection, account: str, folder: str, head: str,
          key_fingerprint: str, fingerprint: Fingerprint) -> Look:
    if str(_one(conn, "PRAGMA journal_mode")).lower() != "wal":
        return Look("set the write-ahead log")
    if not _one(conn, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                      "name = 'alembic_version'") \
            or _one(conn, "SELECT version_num FROM alembic_version") != head:
        return Look("bring the schema to the newest migration")
    if _one(conn, "SELECT value FROM database_facts WHERE name = ?",
            FINGERPRINT_FACT) != key_fingerprint:
        return Look("check the pseudonym key")
    for work, sql in _WORK:
        if _one(conn, sql) is not None:
            return Look(work)
    if _one(conn, "SELECT 1 FROM imap_ledger WHERE account = ? AND folder = ? AND "
                  "pending_action IS NOT NULL LIMIT 1", account, folder) is not None:
        return Look("apply imap.after actions left pending")
    texts = [str(text) for (text,) in conn.execute(
        "SELECT text FROM mailings WHERE status = 'active' ORDER BY id")]
    if _one(conn, "SELECT 1 FROM extractions WHERE knowledge != ? LIMIT 1",
            fingerprint(texts)) is not None:
        return Look("re-code or mark records for the mailings known now")
    ledgers = {int(uidvalidity): Ledger(int(last_uid), bool(failed))
               for uidvalidity, last_uid, failed in conn.execute(
                   "SELECT uidvalidity, MAX(uid), MAX(status = 'failed') FROM imap_ledger "
                   "WHERE account = ? AND folder = ? GROUP BY uidvalidity", (account, folder))}
    if not ledgers:
        return Look("read the folder for the first time")
    return Look(None, ledgers)


__all__ = ["Ledger", "Look", "look", "mailing_fingerprint"]
