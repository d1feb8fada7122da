"""The ingest pipeline: source items -> raw store (committed first) -> parse -> code -> store.

Raw bytes are committed in batches before anything is parsed, so a crash or a bad message
never loses one; parsing and coding run apart (:mod:`ldn_inbox.flow.coder`, in worker processes
for large runs) and their records are written in batches too. A message that cannot be
parsed or coded is kept with ``parse_status = parse_error`` and its error, and the run goes
on.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.errors import DatabaseError
from ldn_inbox.flow.coder import (
    Coder,
    Facts,
    Outcome,
    Pending,
    error_text,
    parse_and_code,
)
from ldn_inbox.flow.summary import Waits
from ldn_inbox.parse.mailings import MailingSet
from ldn_inbox.sources.base import RawItem, Skipped
from ldn_inbox.store.models import (
    Contact,
    Extraction,
    Message,
    RawMessage,
    Response,
    ResponseItem,
    table_of,
    utcnow,
)
from ldn_inbox.store.packing import unpack
from ldn_inbox.store.privacy import respondent_id
from ldn_inbox.store.rawstore import Stored, in_chunks, store_many
from ldn_inbox.store.records import (
    extraction_columns,
    response_columns,
    response_items,
    save_extraction,
)

if TYPE_CHECKING:
    from ldn_inbox.parse.mailing_learn import FirstPass

log = logging.getLogger(__name__)

#: Batches being coded while the run reads and stores the next one: two keep the coding
#: workers busy while the run writes a batch's records (one more batch in memory).
AHEAD = 2
#: Called with each batch as stored, inside its transaction: (item, what became of it) pairs
#: (the IMAP ledger writes its rows with the bytes this way).
OnStored = Callable[[Session, list[tuple[RawItem, Stored]]], None]


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
    #: mailings learned from the replies in this run, and records re-coded with them
    learned: list[int] = field(default_factory=list)
    recoded: int = 0
    #: whether lexicon overlays were applied or removed since the last run
    lexicons: bool = False
    #: where the run's time went
    waits: Waits = field(default_factory=Waits)

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
        text += f" [{kinds}]" if kinds else ""
        if self.learned:
            numbers = ", ".join(f"#{n}" for n in self.learned)
            text += f"; learned mailing {numbers} from the replies' quotes"
        if self.recoded:
            text += f"; {self.recoded} re-coded with what is now known of the mailings"
            text += " and the lexicons" if self.lexicons else ""
        return text


@dataclass(frozen=True)
class Settings:
    """What the pipeline needs from the configuration.

    :ivar workers: processes that parse and code (1: the run's own; 0: one per CPU).
    :ivar batch_messages: raw messages stored per transaction (and coded per batch).
    """

    pseudonym_key: bytes
    convert_timeout: float = 10.0
    message_timeout: float = 120.0
    workers: int = 1
    batch_messages: int = 100
    batch_bytes: int = 16 * 1024 * 1024
    #: the mailings to code with (an ingest run reads them from the database)
    mailings: MailingSet = field(default_factory=MailingSet)
    #: learn mailings from the replies' quotes during a run
    learn: bool = True

    def coder(self) -> Coder:
        return Coder(workers=self.workers, convert_timeout=self.convert_timeout,
                     message_timeout=self.message_timeout, mailings=self.mailings)


def _message_columns(outcome: Outcome, received_at: datetime | None,
                     pseudonym: str | None) -> dict[str, Any]:
    """What a coded outcome sets of its ``messages`` row (attribute names); a failure sets
    its status and error and leaves the texts as they were."""
    facts, coded = outcome.facts, outcome.coded
    columns: dict[str, Any] = {"parsed_at": utcnow()}
    if facts is not None:
        columns.update(subject=facts.subject or None, received_at=facts.date or received_at,
                       parser=facts.parser, attachments=facts.attachments,
                       failed_recipient=", ".join(facts.failed_recipients)[:998] or None,
                       respondent_id=pseudonym)
    if coded is None or facts is None:
        columns.update(parse_status="parse_error", parse_error=outcome.error)
    else:
        columns.update(own_text=coded.own_text, quoted_packed=outcome.stored_texts()[0],
                       quoted_plain=None,
                       parse_status="fallback" if facts.parser != "mail-parser" else "ok",
                       parse_error=_problems(facts))
    return columns


def _write(session: Session, message: Message, outcome: Outcome, settings: Settings, *,
           fresh: bool = False) -> None:
    facts = outcome.facts
    pseudonym = _senders(session, [facts], settings).get(facts.from_address) \
        if facts is not None else None
    for name, value in _message_columns(outcome, message.received_at, pseudonym).items():
        setattr(message, name, value)
    if outcome.coded is None or facts is None:
        return
    if not fresh:
        session.flush()
    save_extraction(session, message, outcome.coded, outcome.stored_texts()[1], fresh=fresh)


def _problems(facts: Facts) -> str | None:
    return "; ".join(dict.fromkeys(facts.problems))[:2000] or None


def _outcome(data: bytes, settings: Settings) -> Outcome:
    return parse_and_code(data, convert_timeout=settings.convert_timeout,
                          message_timeout=settings.message_timeout, mailings=settings.mailings)


def code_message(session: Session, message: Message, data: bytes, settings: Settings) -> None:
    """Parse and code ``data`` into ``message`` (flushes; the caller commits).

    Raises what parsing or coding raised, leaving ``message`` as it was (re-coding keeps
    the old record when the new extractor fails)."""
    outcome = _outcome(data, settings)
    if outcome.exception is not None:
        raise outcome.exception
    if outcome.error is not None and outcome.facts is None:
        raise RuntimeError(outcome.error)
    with session.no_autoflush:
        _write(session, message, outcome, settings)


def _apply(session: Session, raw_id: int, message_id: str, received_at: datetime | None,
           outcome: Outcome, settings: Settings) -> str:
    """Write one coded outcome (inside the caller's transaction); returns ``coded:<kind>``,
    ``duplicate_id``, ``quarantined`` or ``already`` (coded before)."""
    message = session.scalar(sa.select(Message).where(Message.message_id == message_id))
    fresh = message is None
    if message is None:
        message = Message(message_id=message_id, raw_id=raw_id, received_at=received_at)
        session.add(message)
        session.flush()
    elif message.raw_id is None:  # its raw copy was deleted: these bytes take its place
        message.raw_id = raw_id
    else:
        return "already" if message.raw_id == raw_id else "duplicate_id"
    message_pk = message.id
    try:
        with session.begin_nested(), session.no_autoflush:
            _write(session, message, outcome, settings, fresh=fresh)
    except Exception as exc:  # a write that fails for one message is kept as its error
        log.warning("message %s quarantined: %s", message_pk, type(exc).__name__)
        message = session.get(Message, message_pk) or message
        message.parse_status = "parse_error"
        message.parse_error = error_text(exc)
        message.parsed_at = utcnow()
    if message.parse_status == "parse_error":
        return "quarantined"
    return "coded:" + str(outcome.coded.values.get("kind") if outcome.coded else "")


def _write_batch(session: Session, jobs: Sequence[_Job], outcomes: Sequence[Outcome],
                 settings: Settings) -> list[str]:
    """Write a batch of fresh records with one multi-row statement per table (:func:`_apply`'s
    results, in order). Raises when any message cannot be written: the caller then rolls
    back and writes them one at a time."""
    ids = sorted({job.message_id for job in jobs})
    existing: dict[str, int | None] = {}  # Message-ID -> the raw_id of its record
    for chunk in in_chunks(ids):
        existing.update(session.execute(
            sa.select(Message.message_id, Message.raw_id).where(Message.message_id.in_(chunk)))
            .all())
    results: list[str] = []
    fresh: list[tuple[int, _Job, Outcome]] = []
    for job, outcome in zip(jobs, outcomes, strict=True):
        if job.message_id in existing:
            raw_id = existing[job.message_id]
            if raw_id is None:
                results.append(_apply(session, job.raw_id, job.message_id, job.received_at,
                                      outcome, settings))
            else:
                results.append("already" if raw_id == job.raw_id else "duplicate_id")
            continue
        existing[job.message_id] = job.raw_id
        fresh.append((len(results), job, outcome))
        results.append("")
    if fresh:
        written = _insert_fresh(session, [(job, outcome) for _, job, outcome in fresh], settings)
        for (index, _, _), result in zip(fresh, written, strict=True):
            results[index] = result
    return results


def _insert_fresh(session: Session, fresh: Sequence[tuple[_Job, Outcome]],
                  settings: Settings) -> list[str]:
    """Insert the records of messages that have none yet: what :func:`_write` and
    :func:`~ldn_inbox.store.records.save_extraction` write for each, as a few multi-row
    statements (no ORM objects: this is most of a large run's own work)."""
    now = utcnow()
    senders = _senders(session, [o.facts for _, o in fresh], settings)
    names = _column_names(Message)
    rows: list[dict[str, Any]] = []
    for job, outcome in fresh:
        facts = outcome.facts
        row: dict[str, Any] = {
            "message_id": job.message_id, "raw_id": job.raw_id, "subject": None,
            "parser": None, "attachments": [], "failed_recipient": None,
            "respondent_id": None, "own_text": None, "quoted_text": None,
            "quoted_packed": None, "reviewed_by": None, "reviewed_at": None}
        pseudonym = senders.get(facts.from_address) if facts is not None else None
        row.update((names[name], value) for name, value in
                   _message_columns(outcome, job.received_at, pseudonym).items())
        row.setdefault("received_at", job.received_at)
        rows.append(row)
    messages = table_of(Message)
    pks = session.execute(messages.insert().returning(messages.c.id,
                                                      sort_by_parameter_order=True),
                          rows).scalars().all()
    extractions: list[dict[str, Any]] = []
    responses: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    results: list[str] = []
    for pk, (_, outcome) in zip(pks, fresh, strict=True):
        coded = outcome.coded
        if coded is None or outcome.facts is None:
            results.append("quarantined")
            continue
        results.append("coded:" + str(coded.values.get("kind")))
        extraction = extraction_columns(coded, now)
        extraction.update(message_pk=pk, learn_text=None, learn_packed=outcome.stored_texts()[1])
        extractions.append(extraction)
        response = response_columns(coded, [], reviewed=False)
        items += [{"message_pk": pk, "field": name, "code": code}
                  for name, code in response_items(response)]
        response.update(message_pk=pk, updated_at=now)
        responses.append(response)
    for model, batch in ((Extraction, extractions), (Response, responses),
                         (ResponseItem, items)):
        if batch:
            session.execute(table_of(model).insert(), batch)
    return results


def _senders(session: Session, facts: Sequence[Facts | None],
             settings: Settings) -> dict[str, str]:
    """The pseudonyms of the senders by address, adding their contact rows (with the first
    display name given) and the display name a row lacks."""
    pseudonyms: dict[str, str] = {}
    first: dict[str, str] = {}  # pseudonym -> the address its row is made with
    names: dict[str, str | None] = {}  # pseudonym -> the display name it will have
    for fact in facts:
        if fact is None or not fact.from_address:
            continue
        pseudonym = pseudonyms.get(fact.from_address)
        if pseudonym is None:
            pseudonym = pseudonyms[fact.from_address] = respondent_id(
                fact.from_address, settings.pseudonym_key)
        first.setdefault(pseudonym, fact.from_address)
        if not names.get(pseudonym):
            names[pseudonym] = fact.from_name or None
    known: dict[str, str | None] = {}
    for chunk in in_chunks(sorted(names)):
        known.update(session.execute(
            sa.select(Contact.respondent_id, Contact.display_name)
            .where(Contact.respondent_id.in_(chunk))).all())
    new = [{"respondent_id": pseudonym, "address": first[pseudonym], "display_name": name,
            "first_seen_at": utcnow()}
           for pseudonym, name in names.items() if pseudonym not in known]
    if new:
        session.execute(table_of(Contact).insert(), new)
    for pseudonym, name in names.items():
        if pseudonym in known and name and not known[pseudonym]:
            session.execute(sa.update(Contact).where(Contact.respondent_id == pseudonym)
                            .values(display_name=name))
    return pseudonyms


@functools.cache
def _column_names(model: type[Any]) -> dict[str, str]:
    """A model's attribute names and the names of their columns ("quoted_plain" is kept in
    "quoted_text"); read once, not at each batch."""
    return {prop.key: prop.columns[0].name for prop in sa.inspect(model).column_attrs}


@dataclass(frozen=True)
class _Job:
    raw_id: int
    message_id: str
    received_at: datetime | None


class Ingest:
    """Stores batches of raw items, then codes what they added.

    Each batch is one transaction: the raw bytes (and, through ``on_stored``, the IMAP
    ledger rows) are committed before anything is parsed. Coding runs in
    :class:`~ldn_inbox.flow.coder.Coder` workers while the next batch is read and stored; its
    records are written one batch per transaction. A run that stops between the two leaves
    raw messages without a record: :func:`code_uncoded` codes them in the next run.

    Coding knows the mailings stored in the database. When messages quote text that no
    known mailing explains, the run learns mailings from those quotes (as soon as a few
    senders quote one, then less and less often) and, at its end, re-codes the records that
    what it learned (or a mailing added since) may code otherwise.
    """

    def __init__(self, sessions: Callable[[], Session], settings: Settings, *,
                 summary: RunSummary | None = None,
                 on_item: Callable[[RunSummary], None] | None = None,
                 on_stored: OnStored | None = None) -> None:
        self.sessions = sessions
        self.summary = summary or RunSummary()
        self.on_item = on_item
        self.on_stored = on_stored
        from ldn_inbox.store.mailing_store import load

        with sessions() as session:
            settings = replace(settings, mailings=load(session))
        self.settings = settings
        self._coder = settings.coder()
        self._queue: list[tuple[list[_Job], Pending]] = []
        self._unexplained = 0  # messages with quotes no mailing explains, since learning
        #: learn when this many are unexplained (None: the learner's MIN_SENDERS, read when
        #: the first batch is written, so a run with nothing to code never loads the learner)
        self._learn_at: int | None = None
        #: the learn texts read by this run's learning so far (read once, not at each try)
        self._learn_cache: dict[tuple[int, Any], str] = {}
        #: the learner's first pass over those texts (see mailing_learn.learn)
        self._first_pass: FirstPass = {}

    def __enter__(self) -> Ingest:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if exc_type is None:
                self.finish()
        finally:
            self._coder.close()
            self.summary.waits.add_coder(self._coder.times)

    def add(self, items: Sequence[RawItem]) -> None:
        """Store ``items`` in one transaction (committed on return) and start coding them."""
        if not items:
            return
        started = time.monotonic()
        try:
            try:
                counts, jobs, payloads = self._store(items)
            except sa.exc.IntegrityError:
                # Another process (an import beside a fetch) stored some of these bytes
                # between our lookup and our insert: look again, they are known now.
                log.info("raw store: bytes stored concurrently by another run; retrying")
                counts, jobs, payloads = self._store(items)
        except sa.exc.OperationalError as exc:
            raise DatabaseError(f"database error while storing: {exc.orig}") from None
        except sa.exc.IntegrityError as exc:
            raise DatabaseError(f"database error while storing: {exc.orig}") from None
        summary = self.summary
        summary.waits.storing += time.monotonic() - started
        summary.seen += len(items)
        summary.new += counts.get("new", 0)
        summary.known += counts.get("known", 0)
        summary.forgotten += counts.get("forgotten", 0)
        if self.on_item is not None:
            self.on_item(summary)
        self.queue_coding(jobs, payloads)

    def _store(self, items: Sequence[RawItem]) -> tuple[dict[str, int], list[_Job],
                                                         list[bytes]]:
        counts: dict[str, int] = {}
        jobs: list[_Job] = []
        payloads: list[bytes] = []
        with self.sessions() as session:
            outcome = store_many(session, items)
            if self.on_stored is not None:
                self.on_stored(session, list(zip(items, outcome, strict=True)))
            for item, stored in zip(items, outcome, strict=True):
                counts[stored.status] = counts.get(stored.status, 0) + 1
                if stored.raw_id is not None:
                    jobs.append(_Job(stored.raw_id, stored.message_id, item.received_at))
                    payloads.append(item.data)
            session.commit()
            return counts, *self._to_code(session, jobs, payloads)

    def queue_coding(self, jobs: list[_Job], payloads: list[bytes]) -> None:
        """Start coding stored messages; writes the records of the batches before them."""
        if jobs:
            self._queue.append((jobs, self._coder.submit(payloads)))
        # keep batches coding while the next is read; write the ones before them
        while len(self._queue) > AHEAD:
            self._write_next()

    def _to_code(self, session: Session, jobs: list[_Job],
                 payloads: list[bytes]) -> tuple[list[_Job], list[bytes]]:
        """Leave out raw messages that have a record already (known bytes, coded before)."""
        ids = list({job.message_id for job in jobs})
        coded: set[tuple[str, int | None]] = set()
        for chunk in in_chunks(ids):
            coded.update((message_id, raw_id) for message_id, raw_id in session.execute(
                sa.select(Message.message_id, Message.raw_id)
                .where(Message.message_id.in_(chunk))))
        # a record without raw bytes (SET NULL) takes these ones: _apply re-codes it
        coded_ids = {message_id for message_id, raw_id in coded if raw_id is not None}
        keep = [(job, data) for job, data in zip(jobs, payloads, strict=True)
                if job.message_id not in coded_ids]
        for job in jobs:
            if job.message_id in coded_ids and (job.message_id, job.raw_id) not in coded:
                self.summary.duplicate_id += 1
        return [job for job, _ in keep], [data for _, data in keep]

    def _write_next(self) -> None:
        jobs, pending = self._queue.pop(0)
        started = time.monotonic()
        outcomes = pending.results()
        written = time.monotonic()
        self.summary.waits.results += written - started
        try:
            try:
                with self.sessions() as session:
                    results = _write_batch(session, jobs, outcomes, self.settings)
                    session.commit()
            except sa.exc.OperationalError:
                raise
            except Exception as exc:  # one message spoils the batch: write one by one
                log.info("writing a batch failed (%s); writing its messages one by one",
                         type(exc).__name__)
                results = []
                with self.sessions() as session:
                    for job, outcome in zip(jobs, outcomes, strict=True):
                        results.append(self._apply_once(session, job, outcome))
        except (sa.exc.OperationalError, sa.exc.IntegrityError) as exc:
            raise DatabaseError(f"database error while storing: {exc.orig}") from None
        self.summary.waits.writing += time.monotonic() - written
        for result in results:
            _count(self.summary, result)
        from ldn_inbox.parse.reply import UNEXPLAINED_MIN

        self._unexplained += sum(1 for o in outcomes
                                 if o.coded is not None and o.coded.unexplained >= UNEXPLAINED_MIN)
        if self._learn_at is None:
            from ldn_inbox.parse.mailing_learn import MIN_SENDERS

            self._learn_at = MIN_SENDERS
        if self.settings.learn and self._unexplained >= self._learn_at:
            self._learn()
        if self.on_item is not None:
            self.on_item(self.summary)

    def _apply_once(self, session: Session, job: _Job, outcome: Outcome) -> str:
        """Write one record and commit. A run beside this one (an import beside a fetch)
        may write the same message's record between our look and our insert: then we look
        again, and it is there."""
        def apply() -> str:
            result = _apply(session, job.raw_id, job.message_id, job.received_at, outcome,
                            self.settings)
            session.commit()
            return result

        try:
            return apply()
        except sa.exc.IntegrityError:
            session.rollback()
        return apply()

    def _learn(self) -> None:
        """Learn mailings from the quotes no known mailing explains; code with them from now
        on. Learning finds nothing new most of the time once the mailings are known, so the
        next attempt waits for twice as many such messages as this one had."""
        from ldn_inbox.parse.mailing_learn import MIN_SENDERS
        from ldn_inbox.store.mailing_store import load, relearn

        started = time.monotonic()
        with self.sessions() as session:
            added = relearn(session, self.settings.mailings, cache=self._learn_cache,
                            first_pass=self._first_pass)
            session.commit()
            if added:
                mailings = load(session)
                self.summary.learned += [record.id for record in added]
        if added:
            self.settings = replace(self.settings, mailings=mailings)
            self._coder.set_mailings(mailings)
            self._learn_at = MIN_SENDERS
        else:
            # twice as many as this attempt had: a batch may bring far more than were due
            # (a first batch of 100 unexplained quotes did not make the next attempt wait
            # for 6, then 12, 24... each one a batch later, reading the same window again)
            self._learn_at = 2 * max(self._learn_at or MIN_SENDERS, self._unexplained)
        self._unexplained = 0
        self.summary.waits.learning += time.monotonic() - started

    def finish(self) -> RunSummary:
        """Wait for the coding still under way and write it; learn from what it brought;
        re-code what newer knowledge of the mailings may code otherwise."""
        while self._queue:
            self._write_next()
        if self.settings.learn and self._unexplained:
            self._learn()
        self.recode_stale()
        self.recode_for_overlays()
        return self.summary

    def recode_stale(self) -> int:
        """Re-code, in batches and with the coding workers, the records coded with older
        knowledge of the mailings that the current knowledge may code otherwise; the others
        are marked current. Corrections are never touched."""
        from ldn_inbox.store.mailing_store import mark_current, stale

        mailings = self.settings.mailings
        with self.sessions() as session:
            pks = stale(session, mailings)
            if not pks:
                mark_current(session, mailings)
                session.commit()
                return 0
        self._recode(pks)
        with self.sessions() as session:
            mark_current(session, mailings)
            session.commit()
        return self.summary.recoded

    def recode_for_overlays(self) -> int:
        """Re-code the records that lexicon overlays applied or removed since the last run
        may code otherwise (``ldn-inbox learn --apply``); corrections are never touched."""
        from ldn_inbox.store.overlays import active_entries, affected, mark_recoded, pending

        with self.sessions() as session:
            overlays = pending(session)
            if not overlays:
                return 0
            pks = affected(session, overlays)
            entries = active_entries(session)
        if use_overlay(entries):
            self._coder.close()  # the workers start again with the lexicons as they are now
        self.summary.lexicons = True
        before = self.summary.recoded
        self._recode(pks)
        with self.sessions() as session:
            mark_recoded(session, [o for o in pending(session)
                                   if o.id in {p.id for p in overlays}])
            session.commit()
        return self.summary.recoded - before

    def _recode(self, pks: Sequence[int]) -> None:
        """Re-code the records ``pks`` in batches with the coding workers."""
        size = self.settings.batch_messages
        for start in range(0, len(pks), size):
            chunk = pks[start:start + size]
            with self.sessions() as session:
                rows = session.execute(
                    sa.select(Message.id, RawMessage.stored, RawMessage.codec)
                    .join(RawMessage, RawMessage.id == Message.raw_id)
                    .where(Message.id.in_(chunk))).all()
            payloads = {pk: data for pk, stored, codec in rows
                        if (data := unpack(stored, codec)) is not None}
            order = [pk for pk in chunk if pk in payloads]
            pending = self._coder.submit([payloads[pk] for pk in order])
            started = time.monotonic()
            outcomes = pending.results()
            written = time.monotonic()
            self.summary.waits.results += written - started
            with self.sessions() as session:
                for pk, outcome in zip(order, outcomes, strict=True):
                    message = session.get(Message, pk)
                    if message is None or outcome.coded is None or outcome.facts is None:
                        continue  # a failure keeps the old coding
                    with session.no_autoflush:
                        _write(session, message, outcome, self.settings)
                    self.summary.recoded += 1
                session.commit()
            self.summary.waits.writing += time.monotonic() - written


def use_overlay(entries: Sequence[tuple[str, str, str, str]]) -> bool:
    """Code with the packaged lexicons plus ``entries`` from now on; whether that changed
    anything. The extractor is loaded only when there is something to add or take away."""
    import sys

    if not entries and "ldn_inbox.extract._text" not in sys.modules:
        return False
    from ldn_inbox.extract._text import lexicon_overlay, set_lexicon_overlay

    if sorted(lexicon_overlay()) == sorted(set(entries)):
        return False
    set_lexicon_overlay(entries)
    return True


def _count(summary: RunSummary, result: str) -> None:
    if result == "duplicate_id":
        summary.duplicate_id += 1
    elif result == "quarantined":
        summary.quarantined += 1
    elif result.startswith("coded:"):
        summary.coded += 1
        kind = result.partition(":")[2]
        if kind:
            summary.kinds[kind] = summary.kinds.get(kind, 0) + 1


def batches(items: Iterable[RawItem], settings: Settings) -> Iterator[list[RawItem]]:
    """``items`` in lists of at most ``batch_messages`` items and about ``batch_bytes``."""
    batch: list[RawItem] = []
    size = 0
    for item in items:
        batch.append(item)
        size += len(item.data)
        if len(batch) >= settings.batch_messages or size >= settings.batch_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def ingest(
    session_factory: Callable[[], Session],
    items: Iterable[RawItem],
    settings: Settings,
    *,
    summary: RunSummary | None = None,
    on_item: Callable[[RunSummary], None] | None = None,
    on_stored: OnStored | None = None,
) -> RunSummary:
    """Store and code every item, in batches (see :class:`Ingest`). ``on_stored`` runs inside
    the raw store's transaction with each batch (the IMAP ledger uses it to commit its rows
    with the bytes)."""
    with Ingest(session_factory, settings, summary=summary, on_item=on_item,
                on_stored=on_stored) as run:
        for batch in batches(items, settings):
            run.add(batch)
    return run.summary


def code_uncoded(sessions: Callable[[], Session], settings: Settings,
                 summary: RunSummary | None = None) -> int:
    """Code the raw messages an interrupted run stored but did not code; returns how many.

    A raw message needs coding when no record has its Message-ID (the same Message-ID with
    other bytes has one: that copy stays raw only)."""
    query = (
        sa.select(RawMessage.id, RawMessage.message_id, RawMessage.first_seen_at)
        .outerjoin(Message, Message.message_id == RawMessage.message_id)
        .where(Message.id.is_(None), RawMessage.stored.is_not(None))
        .order_by(RawMessage.id)
    )
    with sessions() as session:
        rows = session.execute(query).all()
    if not rows:
        return 0
    summary = summary or RunSummary()
    with Ingest(sessions, settings, summary=summary) as run:
        for start in range(0, len(rows), settings.batch_messages):
            chunk = rows[start:start + settings.batch_messages]
            with sessions() as session:
                data = {raw_id: unpack(stored, codec) for raw_id, stored, codec in session.execute(
                    sa.select(RawMessage.id, RawMessage.stored, RawMessage.codec)
                    .where(RawMessage.id.in_([row.id for row in chunk])))}
            run.queue_coding([_Job(row.id, row.message_id, row.first_seen_at) for row in chunk],
                             [data.get(row.id) or b"" for row in chunk])
    log.info("coded %d message(s) stored by an interrupted run", len(rows))
    return len(rows)
