"""Summaries of the coded data: text tables (``stats``, the demo) and the HTML report."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.codebook import FIELD_BY_NAME
from ldn_inbox.store.models import Response, ResponseItem


def _counts(session: Session, column: Any,
            where: sa.ColumnElement[bool] | None = None) -> list[tuple[str, int]]:
    query = sa.select(column, sa.func.count()).group_by(column).order_by(sa.func.count().desc())
    if where is not None:
        query = query.where(where)
    return [("null" if value is None else str(value), int(count))
            for value, count in session.execute(query)]


def summary_text(session: Session) -> str:
    """Counts per message kind and per answer, as plain text tables."""
    lines: list[str] = []
    total = session.scalar(sa.select(sa.func.count()).select_from(Response)) or 0
    lines.append(f"messages coded: {total}")
    lines.append("kind: " + ", ".join(f"{k} {n}" for k, n in _counts(session, Response.kind)))
    is_reply = Response.kind == "reply"
    for name in ("language", "ldn_use", "prescriber", "experience", "side_effects"):
        column = getattr(Response, name)
        counts = _counts(session, column, is_reply)
        lines.append(f"{name}: " + ", ".join(f"{k} {n}" for k, n in counts))
    for name in ("benefits", "side_effect_codes"):
        counts = _counts(session, ResponseItem.code, ResponseItem.field == name)
        lines.append(f"{name}: " + (", ".join(f"{k} {n}" for k, n in counts) or "none"))
    flagged = session.scalar(
        sa.select(sa.func.count()).select_from(Response).where(Response.needs_review)
    ) or 0
    lines.append(f"needs review: {flagged}")
    _ = FIELD_BY_NAME
    return "\n".join(lines)


def stats_text(session: Session, *, unit: str = "respondents", lang: str = "en") -> str:
    """The HTML report's numbers as text tables (``ldn-inbox stats``), from the views."""
    from ldn_inbox.serve.summary import collect, format_text

    return format_text(collect(session, unit=unit, lang=lang))


def report_html(session: Session, *, unit: str = "respondents", lang: str = "en",
                generated: str | None = None) -> str:
    """The self-contained HTML report (``ldn-inbox report``); see htmlreport.py."""
    from ldn_inbox.serve.htmlreport import render
    from ldn_inbox.serve.summary import collect

    return render(collect(session, unit=unit, lang=lang), generated=generated)
