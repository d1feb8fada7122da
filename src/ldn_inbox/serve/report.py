"""Summaries of the coded data: text tables (``stats``, the demo) and the HTML report."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.codebook import FIELD_BY_NAME
from ldn_inbox.serve.charts import Chart
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


def stats_text(session: Session, *, unit: str = "respondents", lang: str = "en",
               records: str = "all") -> str:
    """The HTML report's numbers as text tables (``ldn-inbox stats``), from the views."""
    from ldn_inbox.serve.summary import collect, format_text

    return format_text(collect(session, unit=unit, lang=lang, records=records))


@dataclass(frozen=True)
class Report:
    """A rendered report: the page and its charts (for ``--charts``)."""

    page: str
    charts: list[Chart]


def make_report(session: Session, *, unit: str = "respondents", lang: str = "en",
                records: str = "all", generated: str | None = None) -> Report:
    """The self-contained HTML report (``ldn-inbox report``) and its charts."""
    from ldn_inbox.serve.htmlreport import charts, render
    from ldn_inbox.serve.summary import collect

    summary = collect(session, unit=unit, lang=lang, records=records)
    return Report(render(summary, generated=generated), charts(summary))


def report_html(session: Session, *, unit: str = "respondents", lang: str = "en",
                records: str = "all", generated: str | None = None) -> str:
    """The report page alone; see :func:`make_report`."""
    return make_report(session, unit=unit, lang=lang, records=records,
                       generated=generated).page


def write_charts(charts: list[Chart], directory: Path, *, png: bool = True) -> list[Path]:
    """Each chart as ``NN-key.svg`` (and ``.png``) in ``directory``, sized for a magazine
    column; the SVGs are written before any PNG, so they exist even without Chromium."""
    from ldn_inbox.serve.charts import png as render_png
    from ldn_inbox.serve.charts import svg
    from ldn_inbox.store.privacy import open_private

    directory.mkdir(parents=True, exist_ok=True)
    stems = [directory / f"{i:02d}-{chart.key}" for i, chart in enumerate(charts, 1)]
    written = []
    for stem, chart in zip(stems, charts, strict=True):
        with open_private(stem.with_suffix(".svg"), "w", encoding="utf-8") as handle:
            handle.write(svg(chart, standalone=True) + "\n")
        written.append(stem.with_suffix(".svg"))
    if png:
        # each PNG is its own Chromium process, mostly waiting: a few at a time
        targets = [stem.with_suffix(".png") for stem in stems]
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1) + 1) as pool:
            list(pool.map(render_png, charts, targets))
        written.extend(targets)
    return written
