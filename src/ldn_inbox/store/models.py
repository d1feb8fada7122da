"""The database schema: the only ORM module (SQLAlchemy 2.x typed models).

Data path and tables::

    raw_messages   exact bytes (zlib-compressed when smaller, see packing.py) + sha256, one row
                   per distinct byte sequence (never altered, only emptied by `purge` or
                   deleted by `forget`)
    raw_sources    every place a raw message was seen (file, mbox entry, maildir key, IMAP UID)
    imap_ledger    one row per (account, folder, UIDVALIDITY, UID) fetched: the exactly-once log
    messages       one row per Message-ID: parse result, own text, status, review state
    contacts       the only table holding who wrote (address, name), keyed by pseudonym
    extractions    the extractor's output per message (replaced by `reparse`)
    corrections    the current human value per (message, field) (never touched by `reparse`)
    audit_log      append-only history of every human change
    responses      effective record: correction if any, else extraction (rebuilt by records.py)
    response_items one row per list item of the effective record (benefits, side_effect_codes)
    tombstones     hashes of erased messages, so a re-import does not bring them back
    mailings       what the organisation sent (added, or learned from the replies' quotes)
    lexicon_overlays entries added to the lexicons from reviewed corrections (learn --apply)
    database_facts facts about the database itself (the pseudonym key's fingerprint)
    review_claims  records open on a reviewer's screen, passed by on the others
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ldn_inbox.store.packing import needs_text, pack_text, unpack, unpack_text

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware datetimes, stored as UTC on every backend (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(
        self, value: datetime | None, dialect: sa.Dialect
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def table_of(model: type[Any]) -> sa.Table:
    """The table a model maps, for Core statements (multi-row INSERTs of a large run)."""
    table: sa.Table = model.__table__
    return table


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(), dict[str, Any]: sa.JSON, list[Any]: sa.JSON,
    }


class RawMessage(Base):
    __tablename__ = "raw_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    #: The exact bytes as ``codec`` keeps them; NULL once `purge` dropped them (the coded
    #: record stays). Read them with :meth:`original` (or packing.unpack), never directly.
    stored: Mapped[bytes | None] = mapped_column("data", sa.LargeBinary)
    #: NULL: ``data`` is the bytes as they came; ``zlib``: a zlib stream of them
    codec: Mapped[str | None] = mapped_column(sa.String(16))
    #: Message-ID header without brackets, or the codebook's synthetic `missing-...` id.
    message_id: Mapped[str] = mapped_column(sa.String(998), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Why the bytes are incomplete (e.g. larger than imap.max_message_bytes), else NULL.
    store_error: Mapped[str | None] = mapped_column(sa.Text)
    purged_at: Mapped[datetime | None]

    sources: Mapped[list[RawSource]] = relationship(
        back_populates="raw", cascade="all, delete-orphan", passive_deletes=True
    )

    def original(self) -> bytes | None:
        """The exact bytes as they came, None once purged."""
        return unpack(self.stored, self.codec)


class RawSource(Base):
    __tablename__ = "raw_sources"
    __table_args__ = (sa.UniqueConstraint("raw_id", "source_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    raw_id: Mapped[int] = mapped_column(
        sa.ForeignKey("raw_messages.id", ondelete="CASCADE"), index=True
    )
    #: file, mbox, maildir or imap
    source_type: Mapped[str] = mapped_column(sa.String(16))
    #: file path, or for IMAP "account/folder"
    location: Mapped[str] = mapped_column(sa.String(2000))
    #: position within the location: mbox index, maildir key, "UIDVALIDITY/UID"; "" for a file
    key: Mapped[str] = mapped_column(sa.String(400), default="")
    #: sha256 of "type|location|key": a short unique key on any backend (paths can be long)
    source_hash: Mapped[str] = mapped_column(sa.String(64))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    raw: Mapped[RawMessage] = relationship(back_populates="sources")


class ImapLedger(Base):
    __tablename__ = "imap_ledger"

    account: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    folder: Mapped[str] = mapped_column(sa.String(1000), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    uid: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    raw_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("raw_messages.id", ondelete="SET NULL"), index=True
    )
    #: stored, duplicate, too_big, failed, forgotten, vanished
    status: Mapped[str] = mapped_column(sa.String(16))
    error: Mapped[str | None] = mapped_column(sa.Text)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: imap.after still to apply on the server ("seen" or "move:FOLDER"), NULL once done: a run
    #: killed between the commit and the STORE/MOVE finishes the job on the next run
    pending_action: Mapped[str | None] = mapped_column(sa.String(1000), index=True)


class Contact(Base):
    __tablename__ = "contacts"

    respondent_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    address: Mapped[str] = mapped_column(sa.String(998))
    display_name: Mapped[str | None] = mapped_column(sa.String(998))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(sa.String(998), unique=True)
    raw_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("raw_messages.id", ondelete="SET NULL"), index=True
    )
    respondent_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("contacts.respondent_id", ondelete="SET NULL"), index=True
    )
    #: Date header (UTC), else the time it was first stored
    received_at: Mapped[datetime | None] = mapped_column(index=True)
    subject: Mapped[str | None] = mapped_column(sa.Text)
    #: ok, fallback (stdlib parser used), parse_error
    parse_status: Mapped[str] = mapped_column(sa.String(16), default="ok", index=True)
    parse_error: Mapped[str | None] = mapped_column(sa.Text)
    parser: Mapped[str | None] = mapped_column(sa.String(32))
    #: the respondent's own words that the coding read
    own_text: Mapped[str | None] = mapped_column(sa.Text)
    #: the rest of the text (quotes, signatures), kept for review until `purge`: zlib of
    #: the UTF-8 text in ``quoted_packed``; rows written before revision 0008 hold it plain
    #: in ``quoted_text`` (read and write it as the :attr:`quoted_text` property)
    quoted_plain: Mapped[str | None] = mapped_column("quoted_text", sa.Text)
    quoted_packed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    failed_recipient: Mapped[str | None] = mapped_column(sa.String(998))
    parsed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(sa.String(200))
    reviewed_at: Mapped[datetime | None]

    extraction: Mapped[Extraction | None] = relationship(
        back_populates="message", cascade="all, delete-orphan", passive_deletes=True
    )
    corrections: Mapped[list[Correction]] = relationship(
        back_populates="message", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def quoted_text(self) -> str | None:
        """The quoted text (quotes, signatures), None once purged."""
        return unpack_text(self.quoted_packed, self.quoted_plain)

    @quoted_text.setter
    def quoted_text(self, text: str | None) -> None:
        self.quoted_packed, self.quoted_plain = pack_text(text), None


class Extraction(Base):
    __tablename__ = "extractions"

    message_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    extractor_version: Mapped[str] = mapped_column(sa.String(32))
    #: field -> value, the codebook's names and values
    values: Mapped[dict[str, Any]]
    confidence: Mapped[dict[str, Any]]
    #: field -> list of {"start", "end", "text"} spans in messages.own_text
    evidence: Mapped[dict[str, Any]]
    review_fields: Mapped[list[Any]] = mapped_column(default=list)
    coded_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: fingerprint of the mailings known when this was coded ("" when none were): a record
    #: coded with other knowledge may be re-coded by the next run
    knowledge: Mapped[str] = mapped_column(sa.String(16), default="", server_default="")
    #: keys of the known mailings the message quotes
    mailing_keys: Mapped[list[Any]] = mapped_column(default=list)
    #: quoted tokens no known mailing explained (a quote of a mailing not yet known)
    unexplained: Mapped[int] = mapped_column(default=0, server_default="0")
    #: those quoted lines, kept (until `purge`) to learn a mailing from, when there are
    #: enough: kept as line numbers of ``Message.quoted_text`` (from 0009) or a stream packed
    #: against it (``store.packing``; plain in ``learn_text`` before 0008)
    learn_plain: Mapped[str | None] = mapped_column("learn_text", sa.Text)
    learn_packed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)

    message: Mapped[Message] = relationship(back_populates="extraction")

    @property
    def learn_text(self) -> str | None:
        """The quoted lines kept to learn a mailing from, None when none are."""
        quoted = self.message.quoted_text if needs_text(self.learn_packed) else None
        return unpack_text(self.learn_packed, self.learn_plain, quoted)


class Correction(Base):
    __tablename__ = "corrections"

    message_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    #: {"v": value} so that a human null is distinguishable from no correction
    value: Mapped[dict[str, Any]]
    #: {"v": value} the extractor had given when the human corrected it: a later extraction
    #: that differs from both is a conflict to show, never an overwrite
    extracted_value: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    reviewer: Mapped[str] = mapped_column(sa.String(200))
    corrected_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="corrections")


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_pk: Mapped[int | None] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    #: the Message-ID at the time (blanked by `forget`)
    message_id: Mapped[str | None] = mapped_column(sa.String(998))
    #: set, undo, accept, note, erase
    action: Mapped[str] = mapped_column(sa.String(16))
    field: Mapped[str | None] = mapped_column(sa.String(64))
    old_value: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    new_value: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    reviewer: Mapped[str] = mapped_column(sa.String(200))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    note: Mapped[str | None] = mapped_column(sa.Text)
    extractor_version: Mapped[str | None] = mapped_column(sa.String(32))


class Response(Base):
    """The effective coded record of a message: what views, exports and the report read."""

    __tablename__ = "responses"

    message_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    language: Mapped[str | None] = mapped_column(sa.String(8))
    ldn_use: Mapped[str | None] = mapped_column(sa.String(16))
    prescriber: Mapped[str | None] = mapped_column(sa.String(16))
    prescriber_specialty: Mapped[str | None] = mapped_column(sa.String(32))
    experience: Mapped[str | None] = mapped_column(sa.String(16))
    benefits: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    side_effects: Mapped[str | None] = mapped_column(sa.String(16))
    side_effect_codes: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    dose_mg: Mapped[float | None] = mapped_column(sa.Float)
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_fields: Mapped[list[Any]] = mapped_column(default=list)
    #: the lowest confidence among the fields, for ordering the review queue
    min_confidence: Mapped[float | None] = mapped_column(sa.Float)
    reviewed: Mapped[bool] = mapped_column(default=False)
    #: fields where a human value differs from the newest extraction
    conflicts: Mapped[list[Any]] = mapped_column(default=list)
    extractor_version: Mapped[str | None] = mapped_column(sa.String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResponseItem(Base):
    __tablename__ = "response_items"

    message_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    field: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)


class Tombstone(Base):
    __tablename__ = "tombstones"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: sha256 of an erased raw message's bytes
    sha256: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    #: sha256 of an erased Message-ID
    message_id_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    forgotten_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailingRecord(Base):
    """A mailing the organisation sent: added by a person or learned from the replies."""

    __tablename__ = "mailings"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: hash of the mailing's tokens (:attr:`ldn_inbox.parse.mailings.Mailing.key`)
    key: Mapped[str] = mapped_column(sa.String(16), unique=True)
    #: added (ldn-inbox mailing add), learned (shared by the quotes of several senders)
    source: Mapped[str] = mapped_column(sa.String(16))
    #: active, or removed (kept so that a learned mailing a person removed is not learned again)
    status: Mapped[str] = mapped_column(sa.String(16), default="active", index=True)
    name: Mapped[str] = mapped_column(sa.String(400), default="")
    text: Mapped[str] = mapped_column(sa.Text)
    #: the questions found in it: [{"number", "label", "text", "start", "end"}]
    questions: Mapped[list[Any]] = mapped_column(default=list)
    #: learned: how many different senders quote it, and record ids of some that do
    senders: Mapped[int] = mapped_column(default=0)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    added_by: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LexiconOverlay(Base):
    """Entries added to the lexicons (``ldn-inbox learn --apply``): which file, its entries,
    who applied it and when, and whether the records it may change were re-coded."""

    __tablename__ = "lexicon_overlays"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(400))
    #: where the file was installed (``learn.overlay_dir``) and its sha256
    path: Mapped[str] = mapped_column(sa.String(2000))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    #: the accepted entries: [{"field", "value", "language", "section", "key", "expression"}]
    entries: Mapped[list[Any]] = mapped_column(default=list)
    #: active, or removed (kept for the history and the report)
    status: Mapped[str] = mapped_column(sa.String(16), default="active", index=True)
    applied_by: Mapped[str] = mapped_column(sa.String(200))
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_by: Mapped[str | None] = mapped_column(sa.String(200))
    removed_at: Mapped[datetime | None]
    #: when a run last re-coded the records this overlay may change (None: still to do)
    recoded_at: Mapped[datetime | None]


class DatabaseFact(Base):
    """A fact about the database itself, e.g. the fingerprint of the pseudonym key its
    respondent ids were made with (never the key)."""

    __tablename__ = "database_facts"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReviewClaim(Base):
    """A record open on a reviewer's screen: other screens pass it by until ``until``
    (renewed while it stays open, released when the reviewer moves on)."""

    __tablename__ = "review_claims"

    message_pk: Mapped[int] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    reviewer: Mapped[str] = mapped_column(sa.String(200))
    until: Mapped[datetime] = mapped_column(index=True)
