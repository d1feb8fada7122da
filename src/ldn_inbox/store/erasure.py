"""Erasure on request (``forget``) and retention (``purge``).

``forget`` removes everything held about one address and leaves tombstones (hashes only)
so that a later import of the same message does not bring it back; ``purge`` drops the
raw bytes and quoted text of coded messages after a retention period, keeping the coded
record and its evidence. Both report counts, never content, and write one audit row.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.errors import NotFoundError, ValidationError
from ldn_inbox.parse.addresses import parse_sender
from ldn_inbox.parse.message_ids import hash_message_id
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
    ResponseItem,
    Tombstone,
    utcnow,
)
from ldn_inbox.store.packing import unpack
from ldn_inbox.store.privacy import normalize_address, respondent_id

_AGE = re.compile(r"^\s*(\d+)\s*([dw])\s*$", re.IGNORECASE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


@dataclass
class Erased:
    """What ``forget`` removed (or, in a dry run, would remove): counts only."""

    contacts: int = 0
    messages: int = 0
    raw_messages: int = 0
    raw_sources: int = 0
    extractions: int = 0
    corrections: int = 0
    responses: int = 0
    response_items: int = 0
    ledger_links: int = 0
    audit_entries_blanked: int = 0
    tombstones_added: int = 0

    @property
    def found(self) -> bool:
        return bool(self.contacts or self.messages or self.raw_messages)

    def lines(self) -> list[str]:
        return [f"{f.name.replace('_', ' ')}: {getattr(self, f.name)}" for f in fields(self)]

    def note(self) -> str:
        return "forget: " + ", ".join(f"{k} {v}" for k, v in asdict(self).items() if v)


@dataclass
class Purged:
    """What ``purge`` emptied: counts and bytes only."""

    raw_messages: int = 0
    bytes_dropped: int = 0
    quoted_texts: int = 0
    kept_uncoded: int = 0

    def lines(self) -> list[str]:
        return [f"{f.name.replace('_', ' ')}: {getattr(self, f.name)}" for f in fields(self)]


def parse_age(text: str) -> timedelta:
    """``90d`` or ``12w`` as a timedelta."""
    match = _AGE.match(text)
    if not match:
        raise ValidationError(f"--raw-older-than takes days or weeks, e.g. 90d or 12w; "
                              f"got {text!r}")
    number, unit = int(match.group(1)), match.group(2).lower()
    return timedelta(days=number * (7 if unit == "w" else 1))


def _from_address(data: bytes) -> str:
    """The sender's address in a raw message's header, parsed as the pipeline parses it."""
    from ldn_inbox.parse.mime import header_text

    match = _HEADER_END.search(data[:256 * 1024])
    head = data[: match.start()] if match else data[:256 * 1024]
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(head)
        values = [header_text(v) for v in headers.get_all("From", [])]
    except Exception:  # an unreadable header names nobody
        return ""
    return parse_sender(values).address


def _ids(session: Session, query: sa.Select[Any]) -> set[int]:
    return set(session.scalars(query))


def _changed(session: Session, statement: sa.Executable) -> int:
    """Run an UPDATE or DELETE; the number of rows it touched."""
    result = cast(sa.CursorResult[Any], session.execute(statement))
    return int(result.rowcount or 0)


def forget(session: Session, address: str, key: bytes | None, *, by: str,
           dry_run: bool = False) -> Erased:
    """Erase everything held about ``address``; the caller commits (or, for a dry run,
    the session is rolled back here).

    Found: the contact (by pseudonym, with ``key``, or stored address), its messages,
    bounces naming the address as failed recipient, raw messages from that address not
    linked to a contact, and every raw copy with the Message-ID of an erased message.
    Audit rows of those messages stay, blanked (action ``erase``); tombstones keep the
    hashes.
    """
    # "Name <address>" is read as a From header would be; a bare address as it is
    target = parse_sender([address]).address or normalize_address(address)
    if "@" not in target:
        raise ValidationError("forget takes an e-mail address (local@domain)")
    # without the database's key (lost, or another user's) the stored address still finds
    # the contact: an erasure is never held up by a key problem
    pseudonyms = {respondent_id(target, key)} if key is not None else set()
    pseudonyms |= set(session.scalars(
        sa.select(Contact.respondent_id).where(sa.func.lower(Contact.address) == target)))
    contact_ids = set(session.scalars(
        sa.select(Contact.respondent_id).where(Contact.respondent_id.in_(pseudonyms))))
    message_pks = _ids(session, sa.select(Message.id).where(sa.or_(
        Message.respondent_id.in_(pseudonyms),
        sa.func.lower(Message.failed_recipient).contains(target, autoescape=True),
    )))
    # Raw messages whose sender is known only from the bytes (e.g. quarantined ones).
    linked = sa.select(Message.raw_id).where(Message.respondent_id.is_not(None),
                                             Message.raw_id.is_not(None))
    unlinked = session.execute(
        sa.select(RawMessage.id, RawMessage.stored, RawMessage.codec)
        .where(RawMessage.stored.is_not(None), RawMessage.id.not_in(linked))
    )
    raw_ids = {raw_id for raw_id, stored, codec in unlinked
               if (data := unpack(stored, codec)) is not None and _from_address(data) == target}
    raw_ids |= {rid for rid in session.scalars(
        sa.select(Message.raw_id).where(Message.id.in_(message_pks))) if rid is not None}
    message_ids = set(session.scalars(sa.select(Message.message_id).where(
        sa.or_(Message.id.in_(message_pks), Message.raw_id.in_(raw_ids)))))
    message_ids |= set(session.scalars(
        sa.select(RawMessage.message_id).where(RawMessage.id.in_(raw_ids))))
    # Other byte versions of the same messages (kept raw as duplicates of a Message-ID).
    raw_ids |= _ids(session, sa.select(RawMessage.id).where(
        RawMessage.message_id.in_(message_ids)))
    message_pks |= _ids(session, sa.select(Message.id).where(
        sa.or_(Message.message_id.in_(message_ids), Message.raw_id.in_(raw_ids))))

    erased = Erased(contacts=len(contact_ids), messages=len(message_pks),
                    raw_messages=len(raw_ids))
    if not erased.found:
        raise NotFoundError("no contact, message or raw message matches that address")

    def delete(model: type[Any], column: sa.ColumnElement[bool]) -> int:
        return _changed(session, sa.delete(model).where(column))

    erased.audit_entries_blanked = _changed(
        session,
        sa.update(AuditEntry)
        .where(sa.or_(AuditEntry.message_pk.in_(message_pks),
                      AuditEntry.message_id.in_(message_ids)))
        .values(action="erase", message_id=None, old_value=sa.null(), new_value=sa.null(),
                note=None),
    )
    erased.response_items = delete(ResponseItem, ResponseItem.message_pk.in_(message_pks))
    erased.responses = delete(Response, Response.message_pk.in_(message_pks))
    erased.corrections = delete(Correction, Correction.message_pk.in_(message_pks))
    erased.extractions = delete(Extraction, Extraction.message_pk.in_(message_pks))
    delete(Message, Message.id.in_(message_pks))
    erased.ledger_links = _changed(
        session,
        sa.update(ImapLedger).where(ImapLedger.raw_id.in_(raw_ids))
        .values(raw_id=None, status="forgotten"),
    )
    erased.raw_sources = delete(RawSource, RawSource.raw_id.in_(raw_ids))
    hashes = set(session.scalars(sa.select(RawMessage.sha256).where(RawMessage.id.in_(raw_ids))))
    delete(RawMessage, RawMessage.id.in_(raw_ids))
    delete(Contact, Contact.respondent_id.in_(contact_ids))
    now = utcnow()
    known = set(session.scalars(sa.select(Tombstone.sha256).where(Tombstone.sha256.in_(hashes))))
    for digest in sorted(hashes - known):
        session.add(Tombstone(sha256=digest, forgotten_at=now))
    id_hashes = {hash_message_id(mid) for mid in message_ids}
    known = set(session.scalars(sa.select(Tombstone.message_id_hash)
                                .where(Tombstone.message_id_hash.in_(id_hashes))))
    for digest in sorted(id_hashes - known):
        session.add(Tombstone(message_id_hash=digest, forgotten_at=now))
    erased.tombstones_added = len(hashes - known) + len(id_hashes - known)
    session.add(AuditEntry(action="erase", reviewer=by, at=now, note=erased.note()))
    session.flush()
    if dry_run:
        session.rollback()
    return erased


def purge(session: Session, older_than: timedelta, *, by: str, now: datetime | None = None,
          dry_run: bool = False) -> Purged:
    """Drop raw bytes and quoted text of coded messages stored before ``now - older_than``.

    A raw message counts as coded when a message with its Message-ID has an extraction
    and no parse error; others keep their bytes (they may still need parsing). The coded
    record, the own text it was read from and its evidence stay. The caller commits.
    """
    now = now or utcnow()
    cutoff = now - older_than
    coded_ids = (
        sa.select(Message.message_id)
        .join(Extraction, Extraction.message_pk == Message.id)
        .where(Message.parse_status != "parse_error")
    )
    old = (RawMessage.stored.is_not(None), RawMessage.first_seen_at < cutoff)
    purged = Purged()
    purged.raw_messages, purged.bytes_dropped = (int(n or 0) for n in session.execute(
        sa.select(sa.func.count(), sa.func.sum(RawMessage.size))
        .where(*old, RawMessage.message_id.in_(coded_ids))
    ).one())
    purged.kept_uncoded = int(session.scalar(
        sa.select(sa.func.count()).select_from(RawMessage)
        .where(*old, RawMessage.message_id.not_in(coded_ids))
    ) or 0)
    old_raw = sa.select(RawMessage.id).where(RawMessage.first_seen_at < cutoff)
    quoted = (sa.or_(Message.quoted_packed.is_not(None), Message.quoted_plain.is_not(None)),
              Message.raw_id.in_(old_raw),
              Message.id.in_(sa.select(Extraction.message_pk)),
              Message.parse_status != "parse_error")
    purged.quoted_texts = int(session.scalar(
        sa.select(sa.func.count()).select_from(Message).where(*quoted)) or 0)
    if dry_run:
        return purged
    session.execute(sa.update(RawMessage).where(*old, RawMessage.message_id.in_(coded_ids))
                    .values({RawMessage.stored: None, RawMessage.codec: None,
                             RawMessage.purged_at: now}))
    session.execute(sa.update(Message).where(*quoted)
                    .values({Message.quoted_packed: None, Message.quoted_plain: None}))
    # the quoted lines kept to learn a mailing from go with the quoted text
    session.execute(sa.update(Extraction).where(
        Extraction.message_pk.in_(sa.select(Message.id).where(Message.raw_id.in_(old_raw))))
        .values({Extraction.learn_packed: None, Extraction.learn_plain: None}))
    if purged.raw_messages or purged.quoted_texts:
        session.add(AuditEntry(
            action="purge", reviewer=by, at=now,
            note=f"purge older than {older_than.days}d: {purged.raw_messages} raw messages "
                 f"({purged.bytes_dropped} bytes), {purged.quoted_texts} quoted texts",
        ))
    session.flush()
    return purged
