"""Mailings in the database: added by a person, learned from the replies, and which records
must be coded again when what is known about them changes.

A mailing is *added* with ``ldn-inbox mailing add FILE`` (what was sent, as .eml or text). Without
one, ingest runs *learn* it (:mod:`ldn_inbox.parse.mailing_learn`) from the quotes of messages that
no known mailing explains. Every extraction records the fingerprint of the mailings known
when it was made; :func:`stale` names the records that newer knowledge may code otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.errors import NotFoundError, SourceError, ValidationError
from ldn_inbox.parse.mailings import Mailing, MailingSet, Question
from ldn_inbox.parse.textnorm import common_subject
from ldn_inbox.store.models import Extraction, MailingRecord, Message, utcnow
from ldn_inbox.store.packing import needs_text, unpack_text

if TYPE_CHECKING:
    from ldn_inbox.parse.mailing_learn import FirstPass

log = logging.getLogger(__name__)

#: Messages whose quotes are read when learning (the most recent ones with unexplained quotes).
LEARN_WINDOW = 500
#: A learned mailing whose text is mostly an added or removed one's is not kept.
_OVERLAP = 0.8


def _mailing(record: MailingRecord) -> Mailing:
    questions = tuple(Question(int(q["number"]), str(q.get("label") or ""), str(q["text"]),
                               int(q["start"]), int(q["end"])) for q in record.questions)
    return Mailing(record.text, name=record.name, source=record.source, id=record.id,
                   questions_given=questions)


def load(session: Session) -> MailingSet:
    """The active mailings."""
    rows = session.scalars(sa.select(MailingRecord).where(MailingRecord.status == "active")
                           .order_by(MailingRecord.id))
    return MailingSet(_mailing(row) for row in rows)


def read_mailing_file(path: Path) -> tuple[str, str]:
    """The text of a mailing file (an .eml as sent, or plain text) and a name for it.

    Raises :class:`SourceError` when the file cannot be read and :class:`ValidationError`
    when it holds no text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read mailing file {path}: {exc.strerror or exc}") from None
    name = path.name
    if path.suffix.lower() in (".eml", ".msg", ".mbox") or data[:5] == b"From ":
        from ldn_inbox.parse.mime import parse

        parsed = parse(data)
        if not parsed.has_headers:
            raise ValidationError(f"{path} is not an e-mail message (no header fields); give "
                                  "the mailing as sent (.eml) or as plain text (.txt)")
        text = parsed.text
        name = parsed.subject or name
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
    if not Mailing(text).tokens:
        raise ValidationError(f"{path} holds no text: nothing to add as a mailing")
    return text, name


@dataclass
class Added:
    """What ``mailing add`` did."""

    record: MailingRecord
    created: bool
    replaced: list[str]


def _shingles(mailing: Mailing, size: int = 5) -> set[tuple[str, ...]]:
    toks = mailing.tokens
    return {toks[i:i + size] for i in range(max(0, len(toks) - size + 1))}


def _covered_by(candidate: Mailing, others: Sequence[Mailing]) -> bool:
    """Whether most of ``candidate``'s text is in ``others``."""
    own = _shingles(candidate)
    if not own:
        return True
    known: set[tuple[str, ...]] = set()
    for other in others:
        known |= _shingles(other)
    return len(own & known) >= _OVERLAP * len(own)


def _questions(mailing: Mailing) -> list[dict[str, object]]:
    return [q.as_dict() for q in mailing.questions]


def add(session: Session, text: str, *, name: str, added_by: str | None) -> Added:
    """Add a mailing the organisation sent; learned mailings it replaces are set aside."""
    mailing = Mailing(text, name=name)
    if not mailing.tokens:
        raise ValidationError("the mailing holds no text")
    existing = session.scalar(sa.select(MailingRecord).where(MailingRecord.key == mailing.key))
    if existing is not None and existing.status == "active" and existing.source == "added":
        return Added(existing, False, [])
    record = existing or MailingRecord(key=mailing.key, text=text)
    record.source = "added"
    record.status = "active"
    record.name = name[:400]
    record.text = text
    record.questions = _questions(mailing)
    record.added_by = added_by
    record.updated_at = utcnow()
    if existing is None:
        session.add(record)
    replaced = []
    for learned in session.scalars(sa.select(MailingRecord).where(
            MailingRecord.source == "learned", MailingRecord.status == "active")):
        if _covered_by(_mailing(learned), [mailing]):
            learned.status = "replaced"
            learned.updated_at = utcnow()
            replaced.append(f"#{learned.id}")
    session.flush()
    return Added(record, True, replaced)


def find(session: Session, ident: str) -> MailingRecord:
    """A mailing by its number (``3`` or ``#3``) or key."""
    text = ident.strip().lstrip("#")
    query = sa.select(MailingRecord)
    record = session.get(MailingRecord, int(text)) if text.isdigit() else session.scalar(
        query.where(MailingRecord.key == text))
    if record is None:
        raise NotFoundError(f"no mailing {ident!r}; `ldn-inbox mailing list` shows them")
    return record


def remove(session: Session, ident: str) -> MailingRecord:
    """Set a mailing aside: no longer used, and (learned) not learned again."""
    record = find(session, ident)
    record.status = "removed"
    record.updated_at = utcnow()
    session.flush()
    return record


def listing(session: Session, *, all_statuses: bool = False) -> list[MailingRecord]:
    query = sa.select(MailingRecord).order_by(MailingRecord.id)
    if not all_statuses:
        query = query.where(MailingRecord.status == "active")
    return list(session.scalars(query))


def _learn_text(packed: bytes | None, plain: str | None, quoted_packed: bytes | None,
                quoted_plain: str | None) -> str | None:
    """A learn text, read against its message's quoted text when it was packed so."""
    quoted = unpack_text(quoted_packed, quoted_plain) if needs_text(packed) else None
    return unpack_text(packed, plain, quoted)


#: Learn texts already read, by (record id, when it was coded): a run learns several times
#: from mostly the same window of messages, and a text is read (unpacked) once
LearnCache = dict[tuple[int, Any], str]


def learn_quotes(session: Session, cache: LearnCache | None = None
                 ) -> list[tuple[str, str, str]]:
    """What learning reads: (record id, sender, unexplained quoted lines) of the
    :data:`LEARN_WINDOW` most recent messages that have such lines. ``cache``: the texts
    an earlier call read (kept up to date: a record coded again is read again)."""
    has_text = sa.or_(Extraction.learn_packed.is_not(None), Extraction.learn_plain.is_not(None))
    window = session.execute(
        sa.select(Message.id, Message.respondent_id, Extraction.coded_at)
        .join(Extraction, Extraction.message_pk == Message.id)
        .where(has_text).order_by(Message.id.desc()).limit(LEARN_WINDOW)).all()
    cache = {} if cache is None else cache
    keys = {(pk, coded_at) for pk, _, coded_at in window}
    missing = [pk for pk, _, coded_at in window if (pk, coded_at) not in cache]
    for start in range(0, len(missing), 500):
        for pk, coded_at, packed, plain, quoted, old in session.execute(
                sa.select(Message.id, Extraction.coded_at, Extraction.learn_packed,
                          Extraction.learn_plain, Message.quoted_packed, Message.quoted_plain)
                .join(Extraction, Extraction.message_pk == Message.id)
                .where(Message.id.in_(missing[start:start + 500]))):
            cache[(pk, coded_at)] = _learn_text(packed, plain, quoted, old) or ""
    for key in [key for key in cache if key not in keys]:
        del cache[key]
    return [(str(pk), sender or f"message-{pk}", cache.get((pk, coded_at), ""))
            for pk, sender, coded_at in window]


def relearn(session: Session, known: MailingSet | None = None, *,
            min_senders: int | None = None, cache: LearnCache | None = None,
            first_pass: FirstPass | None = None) -> list[MailingRecord]:
    """Learn mailings from the quotes no known mailing explains; returns the new records.

    Reads the unexplained quoted lines of the :data:`LEARN_WINDOW` most recent messages
    that have them (through ``cache``, see :func:`learn_quotes`; ``first_pass``: the
    learner's, see :func:`~ldn_inbox.parse.mailing_learn.learn`); ``min_senders``
    defaults to the learner's :data:`~ldn_inbox.parse.mailing_learn.MIN_SENDERS`."""
    # the learner (and the reply parser with lxml under it) is loaded when there is
    # something to learn from, not by every run that only reads the mailings
    from ldn_inbox.parse.mailing_learn import MIN_SENDERS, learn

    known = known if known is not None else load(session)
    found = learn(learn_quotes(session, cache), known,
                  min_senders=MIN_SENDERS if min_senders is None else min_senders,
                  first_pass=first_pass)
    if not found:
        return []
    set_aside = [_mailing(r) for r in session.scalars(sa.select(MailingRecord).where(
        MailingRecord.status != "active"))]
    added: list[MailingRecord] = []
    for item in found:
        mailing = item.mailing
        if set_aside and _covered_by(mailing, set_aside):
            continue
        if session.scalar(sa.select(MailingRecord.id).where(MailingRecord.key == mailing.key)):
            continue
        record = MailingRecord(
            key=mailing.key, source="learned", status="active",
            name=_learned_name(session, item.sources), text=mailing.text,
            questions=_questions(mailing), senders=item.senders,
            sources=[int(key) for key in item.sources[:50]])
        try:
            with session.begin_nested():
                session.add(record)
                session.flush()
        except sa.exc.IntegrityError:
            continue  # a run beside this one learned the same mailing a moment ago
        added.append(record)
    for record in added:
        log.info("learned mailing #%s from the quotes of %d senders (%d questions found)",
                 record.id, record.senders, len(record.questions))
    return added


def _learned_name(session: Session, sources: Sequence[str]) -> str:
    """The subject most of the quoting replies answer ("Re: " and the like taken off)."""
    ids = [int(key) for key in sources[:200]]
    return common_subject(session.scalars(
        sa.select(Message.subject).where(Message.id.in_(ids))).all())


def stale(session: Session, knowledge: MailingSet) -> list[int]:
    """Records coded with other knowledge of the mailings that it may code otherwise: those
    coded when no mailing was known, those quoting a mailing no longer known, and those
    whose quotes no mailing explained."""
    keys = {mailing.key for mailing in knowledge.mailings}
    rows = session.execute(
        sa.select(Extraction.message_pk, Extraction.knowledge, Extraction.mailing_keys,
                  Extraction.unexplained)
        .where(Extraction.knowledge != knowledge.fingerprint)).all()
    if not rows:  # the usual case: a run with nothing new loads no reply parser
        return []
    from ldn_inbox.parse.reply import UNEXPLAINED_MIN

    out = []
    for pk, coded_with, used, unexplained in rows:
        # coded knowing no mailing at all: its own words may hold one pasted without quote
        # marks, which nothing counts as unexplained
        if not coded_with or unexplained >= UNEXPLAINED_MIN \
                or any(key not in keys for key in used or []):
            out.append(pk)
    return out


def mark_current(session: Session, knowledge: MailingSet, pks: Sequence[int] | None = None
                 ) -> None:
    """Records that newer knowledge would not change: note that they are up to date."""
    query = sa.update(Extraction).where(Extraction.knowledge != knowledge.fingerprint)
    if pks is not None:
        query = query.where(Extraction.message_pk.in_(list(pks)))
    session.execute(query.values(knowledge=knowledge.fingerprint))


def describe(record: MailingRecord, *, full: bool = False) -> str:
    """A mailing for people: where it came from, the questions found, and its text."""
    origin = {"added": f"added by {record.added_by}" if record.added_by else "added",
              "learned": f"learned from the quotes of {record.senders} senders"}.get(
                  record.source, record.source)
    words = len(Mailing(record.text).tokens)
    lines = [f"#{record.id} {record.name or '(no name)'}",
             f"  {origin}, {record.created_at:%Y-%m-%d %H:%M} UTC; {words} words; "
             f"status {record.status}; key {record.key}"]
    if record.source == "learned" and record.sources:
        shown = ", ".join(f"#{pk}" for pk in record.sources[:8])
        more = f" and {len(record.sources) - 8} more" if len(record.sources) > 8 else ""
        lines.append(f"  quoted by records {shown}{more}")
    if record.questions:
        for question in sorted(record.questions, key=lambda q: int(q["start"])):
            label = f"{question['label']}: " if question.get("label") else ""
            lines.append(f"  question {question['number']} asked as {label}"
                         f"{_clip(str(question['text']), 90)}")
    else:
        lines.append("  no survey question found in it: its text is kept out of the "
                     "respondents' words, but answers cannot be tied to its questions")
    if full:
        lines += ["", *("  | " + line for line in record.text.splitlines())]
    return "\n".join(lines)


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"
