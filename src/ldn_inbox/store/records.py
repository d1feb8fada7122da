"""Coded records: the extractor's output, human corrections, and the effective record.

The effective value of a field is the human one where a correction exists, else the
extracted one. ``responses`` and ``response_items`` hold it for views, exports and the
report, rebuilt by :func:`refresh_response` whenever an extraction or a correction changes.
A new extraction never overwrites a correction; where it now disagrees with one, the field
is listed in ``responses.conflicts``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.codebook import CODED_FIELDS, LIST_FIELDS
from ldn_inbox.store.models import (
    Correction,
    Extraction,
    Message,
    Response,
    ResponseItem,
    utcnow,
)

if TYPE_CHECKING:
    from ldn_inbox.extract.coding import Coded


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return sorted(a) == sorted(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b)) < 1e-9
    return bool(a == b)


class Extracted(Protocol):
    """What the effective record needs of an extraction (an :class:`Extraction` row, or the
    coded record it is written from)."""

    @property
    def extractor_version(self) -> str: ...
    @property
    def values(self) -> dict[str, Any]: ...
    @property
    def confidence(self) -> dict[str, Any]: ...
    @property
    def review_fields(self) -> list[Any]: ...


def extraction_columns(coded: Coded, coded_at: datetime) -> dict[str, Any]:
    """The :class:`Extraction` attributes of ``coded`` but its learn text (packed apart)."""
    return {"extractor_version": coded.extractor_version, "values": dict(coded.values),
            "confidence": dict(coded.confidence), "evidence": dict(coded.evidence),
            "review_fields": list(coded.review_fields), "coded_at": coded_at,
            "knowledge": coded.knowledge, "mailing_keys": list(coded.mailings),
            "unexplained": coded.unexplained}


def save_extraction(session: Session, message: Message, coded: Coded,
                    learn_packed: bytes | None, *, fresh: bool = False) -> None:
    """Store (or replace) the extractor's record of ``message`` and refresh the effective one.

    ``learn_packed``: its learn text as stored (packed against the quoted text where it was
    coded, see :meth:`~ldn_inbox.flow.coder.Outcome.pack`). ``fresh``: the message row was
    made in this transaction, so it has no extraction, corrections or effective record
    yet: nothing is read and nothing is flushed (the caller flushes a whole batch at
    once)."""
    extraction = None if fresh else session.get(Extraction, message.id)
    if extraction is None:
        extraction = Extraction(message_pk=message.id)
        session.add(extraction)
    for name, value in extraction_columns(coded, utcnow()).items():
        setattr(extraction, name, value)
    extraction.learn_packed, extraction.learn_plain = learn_packed, None
    if not fresh:
        session.flush()
    refresh_response(session, message, fresh=fresh, extraction=extraction)


def effective_values(extraction: Extracted | None,
                     corrections: list[Correction]) -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(CODED_FIELDS)
    if extraction is not None:
        values.update({k: v for k, v in extraction.values.items() if k in CODED_FIELDS})
    for correction in corrections:
        values[correction.field] = correction.value.get("v")
    return values


def response_columns(extraction: Extracted | None, corrections: list[Correction],
                     reviewed: bool) -> dict[str, Any]:
    """The :class:`Response` attributes (but the key and ``updated_at``) of an extraction
    with its corrections; ``reviewed``: a person has looked at the whole message."""
    values = effective_values(extraction, corrections)
    corrected = {c.field for c in corrections}
    conflicts: list[str] = []
    if extraction is not None:
        for correction in corrections:
            new = extraction.values.get(correction.field)
            then = (correction.extracted_value or {}).get("v")
            human = correction.value.get("v")
            if not _same(new, human) and not _same(new, then):
                conflicts.append(correction.field)
    columns: dict[str, Any] = {}
    for name in CODED_FIELDS:
        value = values.get(name)
        if name in LIST_FIELDS and value is not None:
            value = sorted(value)
        columns[name] = value
    review_fields = [] if extraction is None else [
        f for f in extraction.review_fields if f not in corrected
    ]
    confidences = [] if extraction is None else [
        float(v) for k, v in extraction.confidence.items() if k not in corrected
    ]
    columns.update(
        review_fields=review_fields, reviewed=reviewed,
        needs_review=bool(review_fields) and not reviewed,
        min_confidence=min(confidences) if confidences else None,
        conflicts=sorted(conflicts),
        extractor_version=None if extraction is None else extraction.extractor_version)
    return columns


def response_items(columns: dict[str, Any]) -> list[tuple[str, str]]:
    """The (field, code) rows of ``response_items`` for a record's :func:`response_columns`."""
    return [(name, code_value) for name in LIST_FIELDS
            for code_value in sorted(set(columns.get(name) or []))]


def refresh_response(session: Session, message: Message, *, fresh: bool = False,
                     extraction: Extraction | None = None) -> Response:
    """Rebuild the effective record of ``message`` from its extraction and corrections."""
    extraction = extraction or session.get(Extraction, message.id)
    corrections = [] if fresh else list(session.scalars(
        sa.select(Correction).where(Correction.message_pk == message.id)
    ))
    columns = response_columns(extraction, corrections, message.reviewed_at is not None)
    response = None if fresh else session.get(Response, message.id)
    if response is None:
        response = Response(message_pk=message.id)
        session.add(response)
    for name, value in columns.items():
        setattr(response, name, value)
    response.updated_at = utcnow()
    if not fresh:
        session.execute(sa.delete(ResponseItem).where(ResponseItem.message_pk == message.id))
    for name, code_value in response_items(columns):
        session.add(ResponseItem(message_pk=message.id, field=name, code=code_value))
    if not fresh:
        session.flush()
    return response
