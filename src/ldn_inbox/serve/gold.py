"""The reviewed records as a labelled set (``export --format gold``), and how often the
reviewers corrected the coder before and after each lexicon overlay (``stats``).

A labelled set is what ``ldn-inbox eval`` scores: ``eml/`` with each message's exact bytes
and ``gold.jsonl`` with one codebook record per message, as in ``fixtures/measure/*``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.codebook import CODED_FIELDS
from ldn_inbox.errors import ValidationError
from ldn_inbox.store.models import (
    Correction,
    LexiconOverlay,
    Message,
    RawMessage,
    Response,
)
from ldn_inbox.store.packing import unpack
from ldn_inbox.store.privacy import open_private


def write_gold(session: Session, directory: Path) -> int:
    """Write every reviewed record with stored bytes to ``directory`` (``eml/NNNNNN.eml``
    and ``gold.jsonl``, human values applied); the number written. The files hold the
    messages as received, addresses included: they are created readable by the owner only."""
    eml = directory / "eml"
    if (directory / "gold.jsonl").exists() or (eml.is_dir() and any(eml.iterdir())):
        raise ValidationError(f"{directory} holds a labelled set already: choose an empty "
                              "directory")
    eml.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    os.chmod(eml, 0o700)
    rows = session.execute(
        sa.select(Message.id, Message.message_id, RawMessage.stored, RawMessage.codec, Response)
        .join(RawMessage, RawMessage.id == Message.raw_id)
        .join(Response, Response.message_pk == Message.id)
        .where(Response.reviewed.is_(True), RawMessage.stored.is_not(None))
        .order_by(Message.id))
    count = 0
    with open_private(directory / "gold.jsonl", "w", encoding="utf-8") as gold:
        for pk, message_id, stored, codec, response in rows:
            data = unpack(stored, codec) or b""
            name = f"{pk:06d}.eml"
            with open_private(eml / name, "wb") as handle:
                handle.write(data)
            record: dict[str, Any] = {"message_id": message_id}
            record.update({name: getattr(response, name) for name in CODED_FIELDS})
            record["file"] = name
            gold.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


@dataclass
class CorrectionRates:
    """Per field, how many values the reviewers changed in each period between overlays.

    :ivar periods: a label per period ("before #1", "#1 to #2", "since #2").
    :ivar reviewed: messages accepted in each period.
    :ivar changed: field -> values changed in each period.
    """

    periods: list[str] = field(default_factory=list)
    reviewed: list[int] = field(default_factory=list)
    changed: dict[str, list[int]] = field(default_factory=dict)


def correction_rates(session: Session) -> CorrectionRates:
    """How often the reviewers corrected the coder, per field, before the first lexicon
    overlay, between overlays and since the last one (by when the change was made)."""
    applied = list(session.execute(sa.select(LexiconOverlay.id, LexiconOverlay.applied_at)
                                   .order_by(LexiconOverlay.applied_at)))
    bounds: list[datetime] = [at for _, at in applied]
    labels = [f"before #{applied[0][0]}" if applied else "all"]
    labels += [f"#{a} to #{b}" for (a, _), (b, _) in pairwise(applied)]
    labels += [f"since #{applied[-1][0]}"] if applied else []

    def period(at: datetime | None) -> int:
        return sum(1 for bound in bounds if at is not None and at >= bound)

    rates = CorrectionRates(labels, [0] * len(labels))
    for (at,) in session.execute(sa.select(Message.reviewed_at)
                                 .where(Message.reviewed_at.is_not(None))):
        rates.reviewed[period(at)] += 1
    for c in session.scalars(sa.select(Correction)):
        if (c.value or {}).get("v") == (c.extracted_value or {}).get("v"):
            continue
        counts = rates.changed.setdefault(c.field, [0] * len(labels))
        counts[period(c.corrected_at)] += 1
    order = {name: n for n, name in enumerate(CODED_FIELDS)}
    rates.changed = dict(sorted(rates.changed.items(), key=lambda kv: order.get(kv[0], 99)))
    return rates


def format_rates(rates: CorrectionRates) -> str:
    """The rates as a text table: values changed per 100 messages accepted."""
    if not rates.changed and not any(rates.reviewed):
        return ""
    width = max(12, *(len(label) for label in rates.periods))
    lines = ["Corrections by the reviewers (per 100 messages accepted; lexicon overlays: "
             "`ldn-inbox learn --list`)",
             f"  {'field':<22}" + "".join(f"{label:>{width + 2}}" for label in rates.periods),
             f"  {'messages accepted':<22}" + "".join(f"{n:>{width + 2}}"
                                                     for n in rates.reviewed)]
    for name, counts in rates.changed.items():
        cells = [f"{100 * c / n:.1f} ({c})" if n else f"- ({c})"
                 for c, n in zip(counts, rates.reviewed, strict=True)]
        lines.append(f"  {name:<22}" + "".join(f"{cell:>{width + 2}}" for cell in cells))
    return "\n".join(lines) + "\n"
