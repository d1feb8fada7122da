"""Re-coding stored messages with the current extractor (``ldn-inbox reparse``): the flow
that ties the review's audit trail to the coder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.errors import ValidationError
from ldn_inbox.flow.app import Context
from ldn_inbox.flow.pipeline import Settings, code_message
from ldn_inbox.review import audit, find_message
from ldn_inbox.store.models import Extraction, Message, RawMessage, Response


# --------------------------------------------------------------------------- reparse
@dataclass
class ReparseSummary:
    """Counts of one ``reparse`` run (message ids, no content)."""

    recoded: int = 0
    changed: int = 0
    no_raw: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = f"{self.recoded} re-coded, {self.changed} with a changed coding"
        if self.no_raw:
            text += f", {len(self.no_raw)} without stored bytes (purged)"
        if self.failed:
            text += f", {len(self.failed)} failed (old coding kept)"
        if self.conflicts:
            text += (f"; {len(self.conflicts)} now disagree with a human value: "
                     "see `ldn-inbox review list --conflicts`")
        return text


def select_messages(session: Session, *, all_messages: bool = False,
                    since: datetime | None = None, idents: Sequence[str] = ()) -> list[int]:
    """Primary keys of the messages to re-code: all, received since ``since``, or named."""
    if sum((bool(all_messages), since is not None, bool(idents))) != 1:
        raise ValidationError("give exactly one of --all, --since DATE or MESSAGE_ID...")
    if idents:
        return list(dict.fromkeys(find_message(session, ident).id for ident in idents))
    query = sa.select(Message.id).where(Message.raw_id.is_not(None)).order_by(Message.id)
    if since is not None:
        query = query.where(Message.received_at >= since)
    return list(session.scalars(query))


def reparse(sessions: Callable[[], Session], message_pks: Sequence[int], settings: Settings,
            *, reviewer: str,
            on_item: Callable[[ReparseSummary], None] | None = None) -> ReparseSummary:
    """Re-code stored raw messages with the current extractor, one transaction each.

    Corrections are never touched; where the new extraction disagrees with a human value
    the record lists the field in ``responses.conflicts``. A changed coding is audited
    (action ``reparse``) under ``reviewer``, the person who ran it.
    """
    from dataclasses import replace

    from ldn_inbox.store.mailing_store import load

    summary = ReparseSummary()
    with sessions() as session:
        settings = replace(settings, mailings=load(session))
    for pk in message_pks:
        with sessions() as session:
            message = session.execute(
                sa.select(Message).where(Message.id == pk).with_for_update()
            ).scalar_one_or_none()
            if message is None:
                continue
            raw = session.get(RawMessage, message.raw_id) if message.raw_id else None
            data = raw.original() if raw is not None else None
            if data is None:
                summary.no_raw.append(message.message_id)
                session.rollback()
                continue
            old = session.get(Extraction, pk)
            old_values = dict(old.values) if old is not None else None
            try:
                with session.begin_nested():
                    code_message(session, message, data, settings)
            except Exception as exc:  # one bad message must never stop the run
                summary.failed.append((message.message_id, f"{type(exc).__name__}: {exc}"))
                session.rollback()
                continue
            extraction = session.get(Extraction, pk)
            summary.recoded += 1
            if extraction is not None and old_values != extraction.values:
                summary.changed += 1
                audit(session, message, "reparse", reviewer=reviewer, extraction=extraction,
                       old={"v": old_values}, new={"v": dict(extraction.values)})
            response = session.get(Response, pk)
            if response is not None and response.conflicts:
                summary.conflicts.append(message.message_id)
            session.commit()
        if on_item is not None:
            on_item(summary)
    return summary


def reparse_messages(ctx: Context, *, all_messages: bool = False,
                     since: datetime | None = None, idents: Sequence[str] = (),
                     reviewer: str) -> ReparseSummary:
    """``ldn-inbox reparse``: choose the messages, re-code them, audit under ``reviewer``."""
    with ctx.sessions() as session:
        pks = select_messages(session, all_messages=all_messages, since=since, idents=idents)
    return reparse(ctx.sessions, pks, ctx.pipeline_settings(), reviewer=reviewer)
