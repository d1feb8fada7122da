"""Lexicon overlays in the database: which were applied, by whom and when, which are active,
and which still wait for their records to be re-coded (``ldn-inbox learn --apply``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.errors import NotFoundError, ValidationError
from ldn_inbox.store.models import LexiconOverlay, Message, Response, utcnow

Entry = tuple[str, str, str, str]  # language, section, key, expression


def record(session: Session, *, name: str, path: str, sha256: str,
           entries: Sequence[dict[str, Any]], applied_by: str) -> LexiconOverlay:
    """Note an installed overlay as active; its records are re-coded by the next run."""
    if any(o.sha256 == sha256 for o in listing(session)):
        raise ValidationError(f"this overlay ({name}) is applied already")
    overlay = LexiconOverlay(name=name, path=path, sha256=sha256, entries=list(entries),
                             status="active", applied_by=applied_by, applied_at=utcnow())
    session.add(overlay)
    session.flush()
    return overlay


def listing(session: Session, *, all_statuses: bool = False) -> list[LexiconOverlay]:
    query = sa.select(LexiconOverlay).order_by(LexiconOverlay.id)
    if not all_statuses:
        query = query.where(LexiconOverlay.status == "active")
    return list(session.scalars(query))


def remove(session: Session, ident: str, *, removed_by: str) -> LexiconOverlay:
    """Set an active overlay aside (kept for the history); its records are re-coded."""
    overlay = session.get(LexiconOverlay, int(ident)) if ident.isdigit() else None
    if overlay is None or overlay.status != "active":
        raise NotFoundError(f"no active overlay #{ident} (see `ldn-inbox learn --list`)")
    overlay.status = "removed"
    overlay.removed_by = removed_by
    overlay.removed_at = utcnow()
    overlay.recoded_at = None
    return overlay


def active_entries(session: Session) -> list[Entry]:
    """The entries of every active overlay, oldest first."""
    return [(str(e["language"]), str(e["section"]), str(e["key"]), str(e["expression"]))
            for overlay in listing(session) for e in overlay.entries]


def pending(session: Session) -> list[LexiconOverlay]:
    """Overlays applied or removed since their records were last re-coded."""
    return list(session.scalars(sa.select(LexiconOverlay)
                                .where(LexiconOverlay.recoded_at.is_(None))
                                .order_by(LexiconOverlay.id)))


def affected(session: Session, overlays: Sequence[LexiconOverlay]) -> list[int]:
    """Records the entries of ``overlays`` may code otherwise: the stored replies in their
    languages (and those of no known language)."""
    languages = sorted({str(e["language"]) for o in overlays for e in o.entries})
    if not languages:
        return []
    query = (sa.select(Message.id).join(Response, Response.message_pk == Message.id)
             .where(Message.raw_id.is_not(None), Response.kind == "reply",
                    sa.or_(Response.language.in_(languages), Response.language.is_(None)))
             .order_by(Message.id))
    return list(session.scalars(query))


def mark_recoded(session: Session, overlays: Sequence[LexiconOverlay]) -> None:
    now = utcnow()
    for overlay in overlays:
        overlay.recoded_at = now
