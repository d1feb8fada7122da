"""Read-only queries shared by commands (errors, stats)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.models import Message, RawMessage


def quarantined(session: Session) -> list[dict[str, Any]]:
    """Messages kept raw with an error: parse errors and incompletely stored ones."""
    rows: list[dict[str, Any]] = []
    query = (
        sa.select(Message.message_id, Message.parse_error, RawMessage.first_seen_at,
                  RawMessage.size, RawMessage.sha256)
        .join(RawMessage, RawMessage.id == Message.raw_id, isouter=True)
        .where(Message.parse_status == "parse_error")
        .order_by(Message.id)
    )
    for mid, error, stored_at, size, sha in session.execute(query):
        rows.append({"message_id": mid, "error": error, "size": size, "sha256": sha,
                     "stored_at": stored_at.isoformat() if stored_at else None})
    incomplete = sa.select(RawMessage).where(RawMessage.store_error.is_not(None))
    for raw in session.scalars(incomplete):
        rows.append({"message_id": raw.message_id, "error": raw.store_error, "size": raw.size,
                     "sha256": raw.sha256, "stored_at": raw.first_seen_at.isoformat()})
    return rows
