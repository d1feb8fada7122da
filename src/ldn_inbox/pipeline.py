"""The ingest pipeline: source items -> raw store (committed first) -> parse -> code -> store.

Each message is its own transaction: the raw bytes are committed before anything is
parsed, so a crash or a bad message never loses one; a message that cannot be parsed or
coded is kept with ``parse_status = parse_error`` and its error, and the run goes on.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.coding import Coded, code
from ldn_inbox.errors import DatabaseError
from ldn_inbox.mime import ParsedMessage, parse
from ldn_inbox.models import Contact, Message, RawMessage, utcnow
from ldn_inbox.privacy import respondent_id
from ldn_inbox.rawstore import store
from ldn_inbox.records import save_extraction
from ldn_inbox.sources.base import RawItem, Skipped

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """Counts of one ingest run (no message content, no addresses)."""

    seen: int = 0
    new: int = 0
    known: int = 0
    forgotten: int = 0
    duplicate_id: int = 0
    coded: int = 0
    quarantined: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.kinds.items()))
        text = (f"{self.seen} seen: {self.new} new, {self.known} already stored, "
                f"{self.quarantined} quarantined")
        if self.duplicate_id:
            text += f", {self.duplicate_id} same Message-ID with other bytes (kept raw)"
        if self.forgotten:
            text += f", {self.forgotten} erased earlier (not re-added)"
        if self.skipped:
            text += f", {len(self.skipped)} files skipped"
        return text + (f" [{kinds}]" if kinds else "")


@dataclass(frozen=True)
class Settings:
    """What the pipeline needs from the configuration."""

    pseudonym_key: bytes
    convert_timeout: float = 10.0


def _error_text(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
    return f"{type(exc).__name__}: {str(exc)[:500]}{where}"


def _contact(session: Session, parsed: ParsedMessage, settings: Settings) -> str | None:
    if not parsed.from_address:
        return None
    pseudonym = respondent_id(parsed.from_address, settings.pseudonym_key)
    contact = session.get(Contact, pseudonym)
    if contact is None:
        session.add(Contact(respondent_id=pseudonym, address=parsed.from_address,
                            display_name=parsed.from_name or None))
    elif parsed.from_name and not contact.display_name:
        contact.display_name = parsed.from_name
    return pseudonym


@dataclass
class _Outcome:
    """A message parsed and coded in memory, before anything is written."""

    parsed: ParsedMessage | None = None
    coded: Coded | None = None
    error: str | None = None
    exception: Exception | None = None


def _parse_and_code(data: bytes, settings: Settings) -> _Outcome:
    try:
        parsed = parse(data, convert_timeout=settings.convert_timeout)
        if not parsed.has_headers:
            return _Outcome(parsed, None, "no header fields: not an e-mail message")
        return _Outcome(parsed, code(parsed))
    except Exception as exc:  # one bad message must never stop the run
        return _Outcome(error=_error_text(exc), exception=exc)


def _write(session: Session, message: Message, outcome: _Outcome, settings: Settings, *,
           fresh: bool = False) -> None:
    parsed, coded = outcome.parsed, outcome.coded
    message.parsed_at = utcnow()
    if parsed is not None:
        message.subject = parsed.subject or None
        message.received_at = parsed.date or message.received_at
        message.parser = parsed.parser
        message.attachments = [a.summary() for a in parsed.attachments]
        message.failed_recipient = ", ".join(parsed.failed_recipients)[:998] or None
        message.respondent_id = _contact(session, parsed, settings)
    if coded is None or parsed is None:
        message.parse_status = "parse_error"
        message.parse_error = outcome.error
        return
    message.own_text = coded.own_text
    message.quoted_text = coded.quoted_text
    message.parse_status = "fallback" if parsed.parser != "mail-parser" else "ok"
    message.parse_error = "; ".join(dict.fromkeys(parsed.problems))[:2000] or None
    session.flush()
    save_extraction(session, message, coded, fresh=fresh)


def code_message(session: Session, message: Message, data: bytes, settings: Settings) -> None:
    """Parse and code ``data`` into ``message`` (flushes; the caller commits).

    Raises what parsing or coding raised, leaving ``message`` as it was (re-coding keeps
    the old record when the new extractor fails)."""
    outcome = _parse_and_code(data, settings)
    if outcome.exception is not None:
        raise outcome.exception
    with session.no_autoflush:
        _write(session, message, outcome, settings)


def process_raw(session: Session, raw: RawMessage, settings: Settings) -> str:
    """Parse and code a stored raw message; returns ``coded:<kind>``, ``duplicate_id`` or
    ``quarantined``. Commits.

    The parsing and coding run in memory first, so the database sees one short write.
    """
    message = session.scalar(sa.select(Message).where(Message.message_id == raw.message_id))
    if message is not None and message.raw_id not in (None, raw.id):
        return "duplicate_id"
    outcome = _parse_and_code(raw.data or b"", settings)
    fresh = message is None
    if message is None:
        message = Message(message_id=raw.message_id, raw_id=raw.id,
                          received_at=raw.first_seen_at)
        session.add(message)
        session.flush()
    message_pk = message.id
    try:
        with session.begin_nested(), session.no_autoflush:
            _write(session, message, outcome, settings, fresh=fresh)
    except Exception as exc:  # a write that fails for one message is kept as its error
        log.warning("message %s quarantined: %s", message_pk, type(exc).__name__)
        message = session.get(Message, message_pk) or message
        message.parse_status = "parse_error"
        message.parse_error = _error_text(exc)
        message.parsed_at = utcnow()
    session.commit()
    if message.parse_status == "parse_error":
        return "quarantined"
    return "coded:" + str(outcome.coded.values.get("kind") if outcome.coded else "")


def ingest(
    session_factory: Callable[[], Session],
    items: Iterable[RawItem],
    settings: Settings,
    *,
    summary: RunSummary | None = None,
    on_item: Callable[[RunSummary], None] | None = None,
    on_stored: Callable[[Session, RawItem, int | None, str], None] | None = None,
) -> RunSummary:
    """Store and code every item. ``on_stored`` runs inside the raw store's transaction (the
    IMAP ledger uses it to commit its row together with the bytes)."""
    summary = summary or RunSummary()
    for item in items:
        summary.seen += 1
        try:
            with session_factory() as session:
                stored = store(session, item)
                if on_stored is not None:
                    on_stored(session, item, stored.raw_id, stored.status)
                session.commit()
                if stored.status == "forgotten":
                    summary.forgotten += 1
                elif stored.raw_id is not None:
                    if stored.status == "new":
                        summary.new += 1
                    else:
                        summary.known += 1
                    raw = stored.raw or session.get(RawMessage, stored.raw_id)
                    assert raw is not None
                    already = None if stored.status == "new" else session.scalar(
                        sa.select(Message.id).where(Message.raw_id == raw.id)
                    )
                    if stored.status == "new" or already is None:
                        outcome = process_raw(session, raw, settings)
                        if outcome == "duplicate_id":
                            summary.duplicate_id += 1
                        elif outcome == "quarantined":
                            summary.quarantined += 1
                        else:
                            summary.coded += 1
                            kind = outcome.partition(":")[2]
                            if kind:
                                summary.kinds[kind] = summary.kinds.get(kind, 0) + 1
        except sa.exc.OperationalError as exc:
            raise DatabaseError(f"database error while storing: {exc.orig}") from None
        if on_item is not None:
            on_item(summary)
    return summary
