"""Read-only queries shared by commands (errors, stats)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.store.models import Message, RawMessage, RawSource


def where_found(source: RawSource | None) -> str | None:
    """Where a raw message was found, for an administrator: the file's path (an mbox or
    maildir with the message's key), or the IMAP account/folder with its UID."""
    if source is None:
        return None
    if source.source_type == "imap":
        validity, _, uid = source.key.partition("/")
        return f"imap:{source.location} UID {uid} (UIDVALIDITY {validity})"
    return f"{source.source_type}:{source.location}" + (f"#{source.key}" if source.key else "")


def _first_sources(session: Session, raw_ids: set[int]) -> dict[int, RawSource]:
    query = sa.select(RawSource).where(RawSource.raw_id.in_(raw_ids)).order_by(RawSource.id)
    first: dict[int, RawSource] = {}
    for source in session.scalars(query):
        first.setdefault(source.raw_id, source)
    return first


def quarantined(session: Session) -> list[dict[str, Any]]:
    """Messages kept raw with an error: parse errors and incompletely stored ones, each
    with where it was found (``source``)."""
    rows = _quarantined(session)
    sources = _first_sources(session, {row["raw_id"] for row in rows} - {None})
    for row in rows:
        row["source"] = where_found(sources.get(row.pop("raw_id")))
    return rows


def _quarantined(session: Session) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    query = (
        sa.select(Message.message_id, Message.parse_error, RawMessage.first_seen_at,
                  RawMessage.size, RawMessage.sha256, RawMessage.id)
        .join(RawMessage, RawMessage.id == Message.raw_id, isouter=True)
        .where(Message.parse_status == "parse_error")
        .order_by(Message.id)
    )
    for mid, error, stored_at, size, sha, raw_id in session.execute(query):
        rows.append({"message_id": mid, "error": error, "size": size, "sha256": sha,
                     "stored_at": stored_at.isoformat() if stored_at else None,
                     "raw_id": raw_id})
    incomplete = sa.select(RawMessage).where(RawMessage.store_error.is_not(None))
    for raw in session.scalars(incomplete):
        rows.append({"message_id": raw.message_id, "error": raw.store_error, "size": raw.size,
                     "sha256": raw.sha256, "stored_at": raw.first_seen_at.isoformat(),
                     "raw_id": raw.id})
    return rows


def raw_copies(session: Session, message_id: str) -> list[RawMessage]:
    """Every raw copy stored for ``message_id`` (brackets optional), oldest first."""
    from ldn_inbox.parse.message_ids import normalize_message_id

    mid = normalize_message_id(message_id) or message_id.strip()
    query = sa.select(RawMessage).where(RawMessage.message_id == mid).order_by(RawMessage.id)
    return list(session.scalars(query))


class AmbiguousRaw(Exception):
    """Several raw copies match; ``candidates`` lists them (pick one by sha256)."""

    def __init__(self, message_id: str, candidates: list[RawMessage]) -> None:
        super().__init__(f"{len(candidates)} raw copies are stored for {message_id}: "
                         "pick one with --sha256")
        self.candidates = candidates


def raw_message(session: Session, message_id: str, sha256: str | None = None) -> RawMessage:
    """The one stored raw copy of ``message_id`` (``sha256``: its hash or a unique prefix).

    :raises NotFoundError: no such message, no copy with that hash, or its bytes were purged
    :raises AmbiguousRaw: several copies and no ``sha256`` to choose
    """
    from ldn_inbox.errors import NotFoundError

    copies = raw_copies(session, message_id)
    if not copies:
        raise NotFoundError(f"no stored message with Message-ID {message_id!r}")
    if sha256:
        wanted = sha256.strip().lower()
        copies = [raw for raw in copies if raw.sha256.startswith(wanted)]
        if not copies:
            raise NotFoundError(f"no raw copy of {message_id!r} has sha256 {sha256!r}")
    if len(copies) > 1:
        raise AmbiguousRaw(message_id, copies)
    raw = copies[0]
    if raw.stored is None:
        when = raw.purged_at.date().isoformat() if raw.purged_at else "an earlier run"
        raise NotFoundError(f"the raw bytes of {message_id!r} were purged ({when}, "
                            "`ldn-inbox purge`); the coded record remains")
    return raw
