"""Review of the coded records by a volunteer: the queue, corrections, acceptance, undo,
notes, history, and re-coding stored messages with the current extractor.

Every write is one short transaction that starts by locking the message's row, so two
reviewers (or a reviewer and ``reparse``) on the same database take turns per message and
never lose each other's changes: corrections are kept per (message, field) and the effective
record is rebuilt from all of them inside the lock. Each change appends to ``audit_log``.

A change must leave the record valid under the codebook's rules. Changing a *governing*
field brings the fields that depend on it into line, in the same change (audited, and undone
together):

* ``kind`` away from ``reply``: every answer field becomes null (only a reply carries
  answers). Back to ``reply``: null answers take the extractor's reading when it coded the
  message as a reply, else "not stated" (``unknown``, lists ``[]``).
* ``ldn_use = never``: prescriber, specialty, experience, side effects and dose become null,
  lists ``[]``; away from ``never``: those nulls become ``unknown``.
* ``prescriber = specialist`` without a specialty: specialty ``unknown``; another
  prescriber: specialty null.
* ``side_effects`` other than ``yes``: ``side_effect_codes = []``.

A change to a dependent field that breaks a rule (a specialty while the prescriber is a GP)
is refused with the rule and the field to change first.

Accepting a record confirms every value: each one becomes a human value, so a later
re-coding that disagrees shows up in ``review list --conflicts`` instead of changing it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.codebook import (
    ANSWER_FIELDS,
    CODED_FIELDS,
    LIST_FIELDS,
    Kind,
    LdnUse,
    Prescriber,
    SideEffects,
    Span,
    Value,
    check_rules,
    parse_value,
)
from ldn_inbox.errors import ChangedError, NotFoundError, ValidationError
from ldn_inbox.store.models import (
    AuditEntry,
    Correction,
    Extraction,
    Message,
    Response,
    ReviewClaim,
    utcnow,
)
from ldn_inbox.store.records import effective_values, refresh_response
from ldn_inbox.terminal import one_line, printable

#: Environment variable naming the reviewer (else the operating-system user).
REVIEWER_ENV = "LDN_INBOX_REVIEWER"
#: How long a record opened on a review screen is passed by on the others (renewed by
#: every action on it): long enough to read a long message, short enough that a screen left
#: open over lunch does not hide its record for the afternoon.
CLAIM_MINUTES = 15
#: Audit actions that ``undo`` can revert.
UNDOABLE = ("set", "accept")
#: What a reply states when nothing is said about a question (CODEBOOK.md).
NOT_STATED: dict[str, Value] = {
    "ldn_use": LdnUse.UNKNOWN.value, "prescriber": Prescriber.UNKNOWN.value,
    "experience": "unknown", "side_effects": SideEffects.UNKNOWN.value,
    "benefits": [], "side_effect_codes": [],
}
_NULL_WHEN_NEVER = ("prescriber", "prescriber_specialty", "experience", "side_effects",
                    "dose_mg")


# --------------------------------------------------------------------------- values
def same_value(a: Any, b: Any) -> bool:
    """Equality of two field values (lists in any order, numbers within rounding)."""
    if isinstance(a, list) and isinstance(b, list):
        return sorted(a) == sorted(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return abs(float(a) - float(b)) < 1e-9
    return bool(a == b)


def identical(a: Any, b: Any) -> bool:
    """:func:`same_value`, and a null is only identical to a null (``[]`` is not null)."""
    return (a is None) == (b is None) and same_value(a, b)


def format_value(value: Value) -> str:
    """A value as the CLI takes it back: ``null``, ``[]``, ``a,b``, ``4.5``, ``current``."""
    if value is None:
        return "null"
    if isinstance(value, list):
        return ",".join(sorted(value)) if value else "[]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def default_reviewer(name: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """``name``, else ``$LDN_INBOX_REVIEWER``, else the operating-system user."""
    env = os.environ if env is None else env
    chosen = (name or env.get(REVIEWER_ENV) or "").strip()
    if not chosen:
        try:
            chosen = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (some containers)
            chosen = ""
    if not chosen:
        raise ValidationError(f"no reviewer name: pass --reviewer NAME or set ${REVIEWER_ENV}")
    if len(chosen) > 200:
        raise ValidationError("the reviewer name is longer than 200 characters")
    return chosen


def default_language(env: Mapping[str, str] | None = None) -> str:
    """The labels' language for the review screen: Dutch (nl) when the locale is Dutch
    (``LC_ALL``, ``LC_MESSAGES``, ``LANG``: nl_BE, nl_NL, ...), else English (en)."""
    env = os.environ if env is None else env
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if env.get(name):
            return "nl" if env[name].lower().startswith("nl") else "en"
    return "en"


# --------------------------------------------------------------------------- lookup
def find_message(session: Session, ident: str) -> Message:
    """The message with Message-ID ``ident`` (angle brackets optional), or the only one
    whose Message-ID starts with it; ``#12`` is record 12 (as ``learn`` names them)."""
    wanted = ident.strip().strip("<>")
    if not wanted:
        raise NotFoundError("no message id given")
    if re.fullmatch(r"#\d{1,18}", wanted):
        by_number = session.get(Message, int(wanted[1:]))
        if by_number is None:
            raise NotFoundError(f"no record {wanted}")
        return by_number
    message = session.scalar(sa.select(Message).where(Message.message_id == wanted))
    if message is not None:
        return message
    pattern = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    matches = list(session.scalars(
        sa.select(Message).where(Message.message_id.like(pattern, escape="\\")).limit(6)
    ))
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(m.message_id for m in matches[:5])
        raise ValidationError(f"{wanted!r} matches several messages ({shown}); give more of it")
    raise NotFoundError(f"no message {wanted!r}; `ldn-inbox review list` shows the ids")


def _check_field(name: str) -> None:
    if name not in CODED_FIELDS:
        raise ValidationError(f"unknown field {name!r}; fields are: {', '.join(CODED_FIELDS)}")


@contextmanager
def _transaction(session: Session) -> Iterator[None]:
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


def _lock(session: Session, ident: str) -> Message:
    """Find ``ident`` and lock its row until the transaction ends (serialises writers)."""
    session.expire_all()  # values read under the lock, never from an earlier transaction
    message = find_message(session, ident)
    return session.execute(
        sa.select(Message).where(Message.id == message.id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _corrections(session: Session, message: Message) -> dict[str, Correction]:
    rows = session.scalars(sa.select(Correction).where(Correction.message_pk == message.id))
    return {c.field: c for c in rows}


def _coded(session: Session, message: Message) -> Extraction:
    extraction = session.get(Extraction, message.id)
    if extraction is None:
        raise ValidationError(
            f"message {message.message_id} has no coded record (it could not be parsed: "
            "see `ldn-inbox errors`, then `ldn-inbox reparse`)"
        )
    return extraction


# --------------------------------------------------------------------------- queue
@dataclass(frozen=True)
class QueueItem:
    """One record in the review queue."""

    message_id: str
    received_at: datetime | None
    kind: str | None
    needs_review: bool
    review_fields: tuple[str, ...]
    min_confidence: float | None
    reviewed: bool
    conflicts: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat() if self.received_at else None
        data["review_fields"] = list(self.review_fields)
        data["conflicts"] = list(self.conflicts)
        return data


def queue(session: Session, *, needs_review: bool = False, field_name: str | None = None,
          conflicts: bool = False, include_reviewed: bool = False) -> list[QueueItem]:
    """The records to review, in order: conflicts with a human value first, then records
    flagged ``needs_review``, lowest confidence first, then the other unreviewed ones.

    Accepted records are left out unless they have a conflict or ``include_reviewed``.
    ``field_name`` keeps records where that field is flagged or in conflict.
    """
    if field_name is not None:
        _check_field(field_name)
    rows = session.execute(
        sa.select(Message.message_id, Message.received_at, Message.id, Response)
        .join(Response, Response.message_pk == Message.id)
    ).all()
    items: list[tuple[tuple[Any, ...], QueueItem]] = []
    for message_id, received_at, pk, response in rows:
        item = QueueItem(
            message_id=message_id, received_at=received_at, kind=response.kind,
            needs_review=bool(response.needs_review),
            review_fields=tuple(response.review_fields or ()),
            min_confidence=response.min_confidence, reviewed=bool(response.reviewed),
            conflicts=tuple(response.conflicts or ()),
        )
        if item.reviewed and not item.conflicts and not include_reviewed:
            continue
        if needs_review and not item.needs_review:
            continue
        if conflicts and not item.conflicts:
            continue
        if field_name is not None and field_name not in item.review_fields \
                and field_name not in item.conflicts:
            continue
        confidence = item.min_confidence
        key = (not item.conflicts, item.reviewed, not item.needs_review, confidence is None,
               confidence or 0.0, received_at.timestamp() if received_at else 0.0, pk)
        items.append((key, item))
    items.sort(key=lambda pair: pair[0])
    return [item for _, item in items]


# --------------------------------------------------------------------------- claims
def claimed_by_others(session: Session, reviewer: str) -> set[str]:
    """Message-IDs open on another reviewer's screen (claims not yet expired)."""
    return set(session.scalars(
        sa.select(Message.message_id).join(ReviewClaim, ReviewClaim.message_pk == Message.id)
        .where(ReviewClaim.reviewer != reviewer, ReviewClaim.until > utcnow())))


def claim(session: Session, ident: str, reviewer: str, *,
          minutes: float = CLAIM_MINUTES) -> str | None:
    """Claim record ``ident`` for ``reviewer`` (or renew the claim), releasing their
    other claims; returns who holds it instead when another reviewer's claim is still
    running (nothing changes then). Commits."""
    with _transaction(session):
        message = _lock(session, ident)
        now = utcnow()
        held = session.get(ReviewClaim, message.id)
        if held is not None and held.reviewer != reviewer and held.until > now:
            return held.reviewer
        session.execute(sa.delete(ReviewClaim).where(ReviewClaim.reviewer == reviewer,
                                                     ReviewClaim.message_pk != message.id))
        if held is None:
            held = ReviewClaim(message_pk=message.id)
            session.add(held)
        held.reviewer = reviewer
        held.until = now + timedelta(minutes=minutes)
        return None


def release(session: Session, reviewer: str) -> None:
    """Drop ``reviewer``'s claims (the screen closed). Commits."""
    with _transaction(session):
        session.execute(sa.delete(ReviewClaim).where(ReviewClaim.reviewer == reviewer))


# --------------------------------------------------------------------------- show
@dataclass(frozen=True)
class FieldView:
    """One field of a record as the reviewer sees it.

    :ivar effective: the value exports use (the human one where there is one).
    :ivar extracted: what the extractor gave (its newest run).
    :ivar corrected: whether a human value exists (``human`` may then be null).
    :ivar flagged: the extractor asked for this field to be checked.
    :ivar conflict: the newest extraction disagrees with the human value.
    """

    name: str
    effective: Value
    extracted: Value
    corrected: bool
    human: Value
    corrected_by: str | None
    confidence: float | None
    evidence: tuple[Span, ...]
    flagged: bool
    conflict: bool


@dataclass(frozen=True)
class OtherMessage:
    """Another message of the same respondent (a follow-up, an earlier answer)."""

    message_id: str
    received_at: datetime | None
    subject: str | None
    kind: str | None
    own_text: str


@dataclass(frozen=True)
class Note:
    at: datetime
    reviewer: str
    field: str | None
    text: str


@dataclass(frozen=True)
class MessageView:
    """Everything ``review show`` and the review screen display for one message."""

    message_id: str
    subject: str | None
    received_at: datetime | None
    respondent_id: str | None
    parse_status: str
    own_text: str
    quoted_text: str
    fields: tuple[FieldView, ...]
    others: tuple[OtherMessage, ...]
    notes: tuple[Note, ...]
    reviewed_by: str | None
    reviewed_at: datetime | None
    extractor_version: str | None
    issues: tuple[str, ...]
    #: the record's number (short, for screens; ``#12`` finds it)
    record: int = 0
    #: changes whenever a value, a correction, the acceptance or a conflict does: a write
    #: given the version the reviewer saw is refused when the record changed since
    version: str = ""

    def field(self, name: str) -> FieldView:
        for view in self.fields:
            if view.name == name:
                return view
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``review show --format json``)."""

        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "message_id": self.message_id, "subject": self.subject,
            "received_at": when(self.received_at), "respondent_id": self.respondent_id,
            "parse_status": self.parse_status, "own_text": self.own_text,
            "quoted_text": self.quoted_text,
            "fields": {
                f.name: {
                    "effective": f.effective, "extracted": f.extracted,
                    "human": f.human if f.corrected else None, "corrected": f.corrected,
                    "corrected_by": f.corrected_by, "confidence": f.confidence,
                    "flagged": f.flagged, "conflict": f.conflict,
                    "evidence": [asdict(span) for span in f.evidence],
                } for f in self.fields
            },
            "others": [
                {"message_id": o.message_id, "received_at": when(o.received_at),
                 "subject": o.subject, "kind": o.kind, "own_text": o.own_text}
                for o in self.others
            ],
            "notes": [{"at": n.at.isoformat(), "reviewer": n.reviewer, "field": n.field,
                       "text": n.text} for n in self.notes],
            "reviewed_by": self.reviewed_by, "reviewed_at": when(self.reviewed_at),
            "extractor_version": self.extractor_version, "issues": list(self.issues),
            "record": self.record, "version": self.version,
        }


def _spans(raw: Any, text: str) -> tuple[Span, ...]:
    spans: list[Span] = []
    for item in raw or ():
        try:
            start, end = int(item["start"]), int(item["end"])
        except (KeyError, TypeError, ValueError):
            continue
        if 0 <= start < end <= len(text):
            spans.append(Span(start, end, str(item.get("text", text[start:end]))))
    return tuple(spans)


def _version(message: Message, extraction: Extraction | None,
             corrections: Mapping[str, Correction], response: Response | None) -> str:
    """A short hash of what a reviewer is shown of a record and acts on."""
    state = {
        "coded": extraction.values if extraction else None,
        "human": {name: [c.value, c.reviewer] for name, c in sorted(corrections.items())},
        "accepted": message.reviewed_by,
        "conflicts": sorted(response.conflicts or ()) if response else [],
    }
    text = json.dumps(state, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _check_version(session: Session, message: Message, extraction: Extraction | None,
                   corrections: Mapping[str, Correction], version: str | None) -> None:
    if version is None:
        return
    response = session.get(Response, message.id)
    if _version(message, extraction, corrections, response) != version:
        raise ChangedError(f"record #{message.id} changed since it was shown; look again")


def _as_shown(session: Session, ident: str, version: str | None) -> tuple[
        Message, Extraction, dict[str, Correction], dict[str, Any]]:
    """The locked record to write to, its coding, corrections and effective values; a
    ChangedError when it is no longer the ``version`` the reviewer saw."""
    message = _lock(session, ident)
    extraction = _coded(session, message)
    corrections = _corrections(session, message)
    _check_version(session, message, extraction, corrections, version)
    return message, extraction, corrections, effective_values(
        extraction, list(corrections.values()))


def show(session: Session, ident: str) -> MessageView:
    """The message, its coded fields (effective, extracted, human) and its context."""
    message = find_message(session, ident)
    extraction = session.get(Extraction, message.id)
    response = session.get(Response, message.id)
    corrections = _corrections(session, message)
    values = effective_values(extraction, list(corrections.values()))
    own_text = message.own_text or ""
    extracted = extraction.values if extraction else {}
    confidence = extraction.confidence if extraction else {}
    evidence = extraction.evidence if extraction else {}
    flagged = set(extraction.review_fields if extraction else ())
    conflicts = set(response.conflicts if response else ())
    fields = []
    for name in CODED_FIELDS:
        correction = corrections.get(name)
        conf = confidence.get(name)
        fields.append(FieldView(
            name=name, effective=values.get(name), extracted=extracted.get(name),
            corrected=correction is not None,
            human=correction.value.get("v") if correction else None,
            corrected_by=correction.reviewer if correction else None,
            confidence=float(conf) if isinstance(conf, (int, float)) else None,
            evidence=_spans(evidence.get(name), own_text),
            flagged=name in flagged, conflict=name in conflicts,
        ))
    others: list[OtherMessage] = []
    if message.respondent_id:
        rows = session.execute(
            sa.select(Message, Response.kind)
            .outerjoin(Response, Response.message_pk == Message.id)
            .where(Message.respondent_id == message.respondent_id, Message.id != message.id)
            .order_by(Message.received_at, Message.id)
        ).all()
        others = [OtherMessage(m.message_id, m.received_at, m.subject, kind, m.own_text or "")
                  for m, kind in rows]
    notes = tuple(
        Note(e.at, e.reviewer, e.field, e.note or "")
        for e in session.scalars(
            sa.select(AuditEntry).where(AuditEntry.message_pk == message.id,
                                        AuditEntry.action == "note").order_by(AuditEntry.id)
        )
    )
    issues = tuple(f"{name}: {text}" for name, text in _issues(values)) if extraction else ()
    return MessageView(
        message_id=message.message_id, subject=message.subject,
        received_at=message.received_at, respondent_id=message.respondent_id,
        parse_status=message.parse_status, own_text=own_text,
        quoted_text=message.quoted_text or "", fields=tuple(fields), others=tuple(others),
        notes=notes, reviewed_by=message.reviewed_by, reviewed_at=message.reviewed_at,
        extractor_version=extraction.extractor_version if extraction else None,
        issues=issues, record=message.id,
        version=_version(message, extraction, corrections, response),
    )


# --------------------------------------------------------------------------- rules
def _issues(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The codebook's rules (check_rules) plus the ones it leaves implicit for a reply."""
    found = [(issue.field, issue.message) for issue in check_rules(dict(record))]
    if record.get("kind") == Kind.REPLY:
        if record.get("ldn_use") is None:
            found.append(("ldn_use", "a reply needs ldn_use (unknown when not stated)"))
        elif record.get("ldn_use") != LdnUse.NEVER:
            for name in ("experience", "side_effects"):
                if record.get(name) is None:
                    found.append((name, "null only when ldn_use = never; use unknown"))
        for name in LIST_FIELDS:
            if record.get(name) is None:
                found.append((name, "a reply lists [] when nothing is named, not null"))
    return found


def _hint(name: str, record: Mapping[str, Any]) -> str:
    """Which governing field to change first, for a refused change of ``name``."""
    kind = record.get("kind")
    if name in ANSWER_FIELDS and kind != Kind.REPLY:
        return f" (kind is {kind}: set kind to reply first)"
    if name == "prescriber_specialty":
        return f" (prescriber is {format_value(record.get('prescriber'))}: " \
               "set prescriber to specialist first)"
    if name in _NULL_WHEN_NEVER and record.get("ldn_use") == LdnUse.NEVER:
        return " (ldn_use is never: change ldn_use first)"
    if name == "side_effect_codes" and record.get("side_effects") != SideEffects.YES:
        return f" (side_effects is {format_value(record.get('side_effects'))}: " \
               "set side_effects to yes first)"
    return ""


def _follow(record: dict[str, Any], changed: str, extracted: Mapping[str, Any]) \
        -> dict[str, Value]:
    """Bring the fields that depend on ``changed`` into line (see the module docstring);
    updates ``record`` and returns the dependent changes."""
    out: dict[str, Value] = {}

    def put(name: str, value: Value) -> None:
        if not identical(record.get(name), value):
            record[name] = value
            out[name] = value

    if changed == "kind":
        if record.get("kind") != Kind.REPLY:
            for name in ANSWER_FIELDS:
                put(name, None)
            return out
        _refill_answers(record, put, extracted)
    if changed in ("kind", "ldn_use"):
        _follow_use(record, put)
    if changed in ("kind", "ldn_use", "prescriber"):
        if record.get("prescriber") == Prescriber.SPECIALIST:
            if record.get("prescriber_specialty") is None:
                put("prescriber_specialty", "unknown")
        else:
            put("prescriber_specialty", None)
    if changed in ("kind", "ldn_use", "side_effects") \
            and record.get("side_effects") != SideEffects.YES:
        put("side_effect_codes", [] if record.get("kind") == Kind.REPLY else None)
    return out


def _default(name: str, extracted: Mapping[str, Any] | None = None) -> Value:
    """The coder's value of ``name`` when given, else the codebook's 'not stated' value."""
    value = extracted.get(name) if extracted is not None else None
    if value is None:
        value = NOT_STATED.get(name)
    return list(value) if isinstance(value, list) else value


def _refill_answers(record: Mapping[str, Any], put: Callable[[str, Value], None],
                    extracted: Mapping[str, Any]) -> None:
    """A record made a reply again: empty answers take the coder's values (when it coded
    a reply too) or 'not stated'."""
    coded = extracted if extracted.get("kind") == Kind.REPLY else None
    for name in ANSWER_FIELDS:
        if record.get(name) is None:
            value = _default(name, coded)
            if value is not None:
                put(name, value)


def _follow_use(record: Mapping[str, Any], put: Callable[[str, Value], None]) -> None:
    """ldn_use = never empties what only a user can answer; otherwise they are filled."""
    if record.get("ldn_use") == LdnUse.NEVER:
        for name in _NULL_WHEN_NEVER:
            put(name, None)
        for name in LIST_FIELDS:
            put(name, [])
        return
    for name in ("prescriber", "experience", "side_effects", *LIST_FIELDS):
        if record.get(name) is None:
            value = _default(name)
            if value is not None:
                put(name, value)


# --------------------------------------------------------------------------- writes
@dataclass(frozen=True)
class Change:
    """One field changed by a ``set`` or ``undo``; ``follows`` when it came with another."""

    field: str
    old: Value
    new: Value
    follows: bool = False


@dataclass(frozen=True)
class Outcome:
    """What a write did; ``warnings`` are rule problems the record already had."""

    message_id: str
    action: str
    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()
    detail: str = ""


_UNSET: Any = object()


def _snapshot(correction: Correction | None) -> dict[str, Any] | None:
    if correction is None:
        return None
    return {"value": correction.value, "extracted_value": correction.extracted_value,
            "reviewer": correction.reviewer}


def audit(session: Session, message: Message, action: str, *, reviewer: str,
           extraction: Extraction | None, field_name: str | None = None,
           old: dict[str, Any] | None = None, new: dict[str, Any] | None = None,
           note: str | None = None, at: datetime | None = None) -> AuditEntry:
    entry = AuditEntry(
        message_pk=message.id, message_id=message.message_id, action=action,
        field=field_name, old_value=old, new_value=new, reviewer=reviewer,
        at=at or utcnow(), note=note,
        extractor_version=extraction.extractor_version if extraction else None,
    )
    session.add(entry)
    session.flush()
    return entry


def _put(session: Session, message: Message, corrections: dict[str, Correction],
         name: str, value: Value, extracted: Value, reviewer: str, at: datetime) -> None:
    correction = corrections.get(name)
    if correction is None:
        correction = Correction(message_pk=message.id, field=name)
        session.add(correction)
        corrections[name] = correction
    correction.value = {"v": value}
    correction.extracted_value = {"v": extracted}
    correction.reviewer = reviewer
    correction.corrected_at = at


def set_field(session: Session, ident: str, field_name: str, text: str, *, reviewer: str,
              note: str | None = None, expect: Any = _UNSET,
              version: str | None = None) -> Outcome:
    """Set ``field_name`` of message ``ident`` to the value written as ``text`` (codebook
    syntax: ``a,b`` or ``[]`` for lists, ``null`` where allowed). Commits.

    ``expect`` is the value the reviewer saw: when the field changed since (another
    reviewer), nothing is written and ValidationError says so. ``version`` is the
    :attr:`MessageView.version` the reviewer saw: any change to the record since is refused
    with ChangedError. Setting the value a field already has writes nothing (no audit row),
    unless it settles a conflict with a newer coding.
    """
    _check_field(field_name)
    value = parse_value(field_name, text)
    with _transaction(session):
        message, extraction, corrections, before = _as_shown(session, ident, version)
        extracted = extraction.values
        if expect is not _UNSET and not identical(before.get(field_name), expect):
            who = corrections[field_name].reviewer if field_name in corrections else "the coder"
            raise ValidationError(
                f"{field_name} of {message.message_id} is now "
                f"{format_value(before.get(field_name))} (by {who}), not "
                f"{format_value(expect)}: look again before changing it"
            )
        record = dict(before)
        record[field_name] = value
        follows = {name: new for name, new in _follow(record, field_name, extracted).items()
                   if name != field_name and not identical(before.get(name), new)}
        old_issues = set(_issues(before))
        new_issues = [issue for issue in _issues(record) if issue not in old_issues]
        if new_issues:
            problems = "; ".join(f"{name}: {text}{_hint(name, record)}"
                                 for name, text in new_issues)
            raise ValidationError(f"cannot set {field_name} = {format_value(value)}: {problems}")
        current = corrections.get(field_name)
        unchanged = (not follows and identical(before.get(field_name), value)
                     and (current is None
                          or identical((current.extracted_value or {}).get("v"),
                                       extracted.get(field_name))))
        warnings = tuple(f"{name}: {text}" for name, text in _issues(record))
        if unchanged and not note:
            return Outcome(message.message_id, "set", (), warnings, "unchanged")
        at = utcnow()
        changes: list[Change] = []
        primary: AuditEntry | None = None
        for name, new in [(field_name, value), *follows.items()]:
            old_snapshot = _snapshot(corrections.get(name))
            _put(session, message, corrections, name, new, extracted.get(name), reviewer, at)
            payload: dict[str, Any] = {"v": new}
            if primary is not None:
                payload["with"] = primary.id
            entry = audit(
                session, message, "set", reviewer=reviewer, extraction=extraction,
                field_name=name, old={"v": before.get(name), "correction": old_snapshot},
                new=payload, at=at,
                note=note if primary is None else f"follows {field_name} = {format_value(value)}",
            )
            primary = primary or entry
            changes.append(Change(name, before.get(name), new, follows=name != field_name))
        refresh_response(session, message)
        return Outcome(message.message_id, "set", tuple(changes), warnings)


def accept(session: Session, ident: str, *, reviewer: str, note: str | None = None,
           version: str | None = None) -> Outcome:
    """Mark the record reviewed: every value is confirmed as a human value, and a
    conflict with a newer extraction is settled in favour of the human value. Commits.

    ``version``: the :attr:`MessageView.version` the reviewer saw (ChangedError when the
    record changed since: nobody accepts values they were not shown)."""
    with _transaction(session):
        message, extraction, corrections, values = _as_shown(session, ident, version)
        issues = _issues(values)
        if issues:
            problems = "; ".join(f"{name}: {text}" for name, text in issues)
            raise ValidationError(
                f"cannot accept {message.message_id}: {problems}; correct it with "
                "`ldn-inbox review set` first"
            )
        at = utcnow()
        extracted = extraction.values
        response = session.get(Response, message.id)
        in_conflict = set(response.conflicts if response else ())
        pinned: dict[str, Any] = {}
        kept: dict[str, Any] = {}
        for name in CODED_FIELDS:
            correction = corrections.get(name)
            if correction is None:
                _put(session, message, corrections, name, values.get(name),
                     extracted.get(name), reviewer, at)
                pinned[name] = values.get(name)
            elif not identical((correction.extracted_value or {}).get("v"),
                               extracted.get(name)):
                kept[name] = correction.extracted_value
                correction.extracted_value = {"v": extracted.get(name)}
        previous = {"v": message.reviewed_by,
                    "at": message.reviewed_at.isoformat() if message.reviewed_at else None}
        message.reviewed_by = reviewer
        message.reviewed_at = at
        audit(session, message, "accept", reviewer=reviewer, extraction=extraction,
               old=previous, new={"v": reviewer, "pinned": pinned, "kept": kept},
               note=note, at=at)
        refresh_response(session, message)
        settled = sorted(in_conflict & set(kept))
        detail = ("kept the human value over the newer coding for " + ", ".join(settled)
                  if settled else "")
        return Outcome(message.message_id, "accept", detail=detail)


def add_note(session: Session, ident: str, text: str, *, reviewer: str,
             field_name: str | None = None) -> Outcome:
    """Attach a note to a message (or to one of its fields). Commits."""
    if field_name is not None:
        _check_field(field_name)
    text = text.strip()
    if not text:
        raise ValidationError("the note is empty")
    with _transaction(session):
        message = _lock(session, ident)
        extraction = session.get(Extraction, message.id)
        audit(session, message, "note", reviewer=reviewer, extraction=extraction,
               field_name=field_name, note=text)
        return Outcome(message.message_id, "note")


def undo(session: Session, ident: str, *, reviewer: str) -> Outcome:
    """Revert ``reviewer``'s last change to message ``ident`` that is not undone yet (a
    ``set`` with the fields that followed it, or an ``accept``). Commits.

    Refused when another reviewer changed one of those fields since.
    """
    with _transaction(session):
        message = _lock(session, ident)
        extraction = session.get(Extraction, message.id)
        entries = list(session.scalars(
            sa.select(AuditEntry).where(AuditEntry.message_pk == message.id)
            .order_by(AuditEntry.id)
        ))
        undone = {(e.new_value or {}).get("undoes") for e in entries if e.action == "undo"}
        targets = [e for e in entries
                   if e.reviewer == reviewer and e.action in UNDOABLE and e.id not in undone
                   and "with" not in (e.new_value or {})]
        if not targets:
            raise ValidationError(f"nothing of {reviewer} to undo on {message.message_id}")
        target = targets[-1]
        corrections = _corrections(session, message)
        at = utcnow()
        if target.action == "accept":
            outcome = _undo_accept(session, message, extraction, corrections, target,
                                   reviewer, at)
        else:
            group = [target, *(e for e in entries
                               if (e.new_value or {}).get("with") == target.id)]
            outcome = _undo_set(session, message, extraction, corrections, group, reviewer, at)
        refresh_response(session, message)
        return outcome


def _undo_set(session: Session, message: Message, extraction: Extraction | None,
              corrections: dict[str, Correction], group: Sequence[AuditEntry],
              reviewer: str, at: datetime) -> Outcome:
    extracted = extraction.values if extraction else {}
    for entry in group:
        assert entry.field is not None
        correction = corrections.get(entry.field)
        wanted = (entry.new_value or {}).get("v")
        if correction is None or not identical(correction.value.get("v"), wanted):
            now = "the coder's value" if correction is None else \
                f"{format_value(correction.value.get('v'))} (by {correction.reviewer})"
            raise ValidationError(
                f"cannot undo: {entry.field} was changed since, it is now {now}; "
                "use `ldn-inbox review set` instead"
            )
    changes: list[Change] = []
    for entry in reversed(group):
        assert entry.field is not None
        correction = corrections[entry.field]
        current = correction.value.get("v")
        previous = (entry.old_value or {}).get("correction")
        if previous is None:
            session.delete(correction)
            del corrections[entry.field]
            restored = extracted.get(entry.field)
        else:
            correction.value = previous["value"]
            correction.extracted_value = previous.get("extracted_value")
            correction.reviewer = previous.get("reviewer") or reviewer
            correction.corrected_at = at
            restored = previous["value"].get("v")
        audit(session, message, "undo", reviewer=reviewer, extraction=extraction,
               field_name=entry.field, old={"v": current},
               new={"v": restored, "undoes": entry.id}, at=at)
        changes.append(Change(entry.field, current, restored, follows=entry is not group[0]))
    session.flush()
    return Outcome(message.message_id, "undo", tuple(reversed(changes)))


def _undo_accept(session: Session, message: Message, extraction: Extraction | None,
                 corrections: dict[str, Correction], target: AuditEntry, reviewer: str,
                 at: datetime) -> Outcome:
    new = target.new_value or {}
    for name, value in (new.get("pinned") or {}).items():
        correction = corrections.get(name)
        # a pinned value someone changed since is a human value of its own: keep it
        if correction is not None and correction.reviewer == target.reviewer \
                and identical(correction.value.get("v"), value):
            session.delete(correction)
    for name, extracted_value in (new.get("kept") or {}).items():
        correction = corrections.get(name)
        if correction is not None:
            correction.extracted_value = extracted_value
    old = target.old_value or {}
    previous_at = old.get("at")
    message.reviewed_by = old.get("v")
    message.reviewed_at = datetime.fromisoformat(previous_at) if previous_at else None
    audit(session, message, "undo", reviewer=reviewer, extraction=extraction,
           old={"v": reviewer}, new={"v": old.get("v"), "undoes": target.id}, at=at)
    session.flush()
    return Outcome(message.message_id, "undo", detail="accept undone: the record is "
                   + ("reviewed by " + str(old.get("v")) if old.get("v") else "unreviewed"))


# --------------------------------------------------------------------------- history
@dataclass(frozen=True)
class HistoryEntry:
    """One audit row in reading form (``old``/``new`` are the field values)."""

    id: int
    at: datetime
    message_id: str | None
    action: str
    field: str | None
    old: Any
    new: Any
    reviewer: str
    note: str | None
    extractor_version: str | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return data


def history(session: Session, ident: str | None = None) -> list[HistoryEntry]:
    """The audit log, oldest first: of one message, or of all."""
    query = sa.select(AuditEntry).order_by(AuditEntry.id)
    if ident is not None:
        message = find_message(session, ident)
        query = query.where(AuditEntry.message_pk == message.id)
    return [
        HistoryEntry(e.id, e.at, e.message_id, e.action, e.field,
                     (e.old_value or {}).get("v"), (e.new_value or {}).get("v"), e.reviewer,
                     e.note, e.extractor_version)
        for e in session.scalars(query)
    ]


# --------------------------------------------------------------------------- text
def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            .rstrip() for row in rows]


def _quote(text: str, prefix: str = "  | ") -> list[str]:
    return [prefix + printable(line) for line in text.splitlines()] or [prefix.rstrip()]


def format_queue(items: Sequence[QueueItem]) -> str:
    """The queue as an aligned table (``review list``)."""
    if not items:
        return "nothing to review"
    rows = [["MESSAGE-ID", "KIND", "CONF", "STATE"]]
    for item in items:
        state = []
        if item.conflicts:
            state.append("conflict: " + ",".join(item.conflicts))
        if item.needs_review:
            state.append("check: " + ",".join(item.review_fields))
        if item.reviewed:
            state.append("accepted")
        conf = "-" if item.min_confidence is None else f"{item.min_confidence:.2f}"
        rows.append([item.message_id, item.kind or "-", conf, "; ".join(state) or "unreviewed"])
    return "\n".join(one_line(line) for line in [*_columns(rows), f"{len(items)} record(s)"])


def format_view(view: MessageView) -> str:
    """A message and its fields as plain text (``review show``)."""
    status = (f"accepted by {view.reviewed_by} on {_when(view.reviewed_at)}"
              if view.reviewed_at else "not accepted yet")
    lines = [
        f"message   {view.message_id}",
        f"received  {_when(view.received_at)}",
        f"subject   {printable(view.subject or '-')}",
        f"sender    {(view.respondent_id or '-')[:12]} "
        f"({len(view.others)} other message(s))",
        f"status    {status}",
        f"coder     {view.extractor_version or '-'}",
        "",
        "own text",
        *_quote(view.own_text),
    ]
    if view.quoted_text.strip():
        lines += ["", f"quoted text ({len(view.quoted_text.splitlines())} lines)",
                  *_quote(view.quoted_text)]
    rows = [["FIELD", "VALUE", "CODER", "HUMAN", "CONF", "NOTE"]]
    for f in view.fields:
        human = f"{format_value(f.human)} ({f.corrected_by})" if f.corrected else "-"
        marks = [m for m, on in (("conflict", f.conflict), ("check", f.flagged)) if on]
        rows.append([f.name, format_value(f.effective), format_value(f.extracted), human,
                     "-" if f.confidence is None else f"{f.confidence:.2f}", ", ".join(marks)])
    lines += ["", *_columns(rows)]
    evidence = [f"  {f.name}: " + " … ".join(repr(s.text) for s in f.evidence)
                for f in view.fields if f.evidence]
    if evidence:
        lines += ["", "evidence", *evidence]
    if view.others:
        lines += ["", "other messages from this sender"]
        for other in view.others:
            lines.append(f"  {other.message_id}  {_when(other.received_at)}  "
                         f"{other.kind or '-'}  {printable(other.subject or '')}".rstrip())
            lines += _quote(other.own_text, "    | ")
    if view.notes:
        lines += ["", "notes"]
        lines += [f"  {_when(n.at)} {n.reviewer}" + (f" [{n.field}]" if n.field else "")
                  + f": {n.text}" for n in view.notes]
    if view.issues:
        lines += ["", "problems (codebook rules)", *(f"  {issue}" for issue in view.issues)]
    return "\n".join(one_line(line) for line in lines)


def format_history(entries: Sequence[HistoryEntry]) -> str:
    """The audit log as an aligned table (``review history``)."""
    if not entries:
        return "no changes recorded"
    rows = [["WHEN (UTC)", "WHO", "ACTION", "MESSAGE-ID", "FIELD", "OLD", "NEW", "NOTE"]]
    for e in entries:
        old = new = ""
        if e.action in ("set", "undo") and e.field:
            old, new = format_value(e.old), format_value(e.new)
        elif e.action == "reparse":
            new = f"coder {e.extractor_version}"
        rows.append([e.at.strftime("%Y-%m-%d %H:%M:%S"), e.reviewer, e.action,
                     e.message_id or "(erased)", e.field or "", old, new, e.note or ""])
    return "\n".join(one_line(line) for line in _columns(rows))
