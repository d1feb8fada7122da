"""Corrections that teach the coder: learn lexicon entries from the reviewed records, apply
an accepted overlay, list and remove overlays, export the reviewed records as a labelled set.

``learn`` proposes (:mod:`ldn_inbox.serve.learn`); a person checks the TOML file; ``apply``
installs it in ``learn.overlay_dir``, notes it in the database and re-codes the records it
may change (human values are kept, as by ``reparse``).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ldn_inbox.codebook import CODED_FIELDS
from ldn_inbox.config import user_data_dir
from ldn_inbox.errors import ConfigError, SourceError, ValidationError
from ldn_inbox.flow.app import Context
from ldn_inbox.flow.pipeline import Ingest, RunSummary, Settings, ingest, use_overlay
from ldn_inbox.serve.evaluate import Scores, load_gold, score
from ldn_inbox.serve.learn import Item, Learned, learn, overlay_text, prepare, target
from ldn_inbox.sources.files import iter_paths
from ldn_inbox.store import mailing_store, overlays
from ldn_inbox.store.db import open_database, session_factory
from ldn_inbox.store.models import (
    Correction,
    LexiconOverlay,
    Message,
    RawMessage,
    Response,
    utcnow,
)
from ldn_inbox.store.packing import unpack


# --------------------------------------------------------------------------- items
def reviewed_items(ctx: Context) -> list[Item]:
    """The records a person reviewed or corrected, with the values known to be right: every
    field of an accepted record, the corrected fields of the others."""
    items = []
    with ctx.read_sessions() as session:
        mailings = mailing_store.load(session)
        changed: dict[int, dict[str, tuple[Any, Any]]] = {}
        confirmed: dict[int, dict[str, Any]] = {}
        for c in session.scalars(sa.select(Correction)):
            human = (c.value or {}).get("v")
            coder = (c.extracted_value or {}).get("v")
            confirmed.setdefault(c.message_pk, {})[c.field] = human
            if human != coder:
                changed.setdefault(c.message_pk, {})[c.field] = (human, coder)
        rows = session.execute(
            sa.select(Message.id, Message.respondent_id, RawMessage.stored, RawMessage.codec,
                      Response)
            .join(RawMessage, RawMessage.id == Message.raw_id)
            .join(Response, Response.message_pk == Message.id)
            .where(sa.or_(Response.reviewed.is_(True),
                          Message.id.in_(sa.select(Correction.message_pk))))
            .order_by(Message.id)).all()
        for pk, respondent, stored, codec, response in rows:
            data = unpack(stored, codec)
            if data is None:
                continue
            truth = ({name: getattr(response, name) for name in CODED_FIELDS}
                     if response.reviewed else dict(confirmed.get(pk, {})))
            items.append(Item(str(pk), respondent or f"record {pk}", data, mailings, truth,
                              changed.get(pk, {}), language=response.language))
    return items


def dev_items(directory: Path) -> list[Item]:
    """The messages of a labelled set (``eml/`` + ``gold.jsonl``) with their gold values,
    coded with the mailings a run learns from them (as ``ldn-inbox eval`` does)."""
    eml_dir = directory / "eml" if (directory / "eml").is_dir() else directory
    gold_path = directory / "gold.jsonl"
    if not gold_path.is_file() or not eml_dir.is_dir():
        raise SourceError(f"{directory}: a dev set needs eml/ and gold.jsonl")
    gold = {row.get("file"): row for row in load_gold(gold_path)}
    files = sorted(eml_dir.glob("*.eml"))
    with tempfile.TemporaryDirectory(prefix="ldn-learn-") as tmp:
        engine = open_database(f"sqlite:///{tmp}/dev.sqlite")
        sessions = session_factory(engine)
        ingest(sessions, iter_paths(files, []),
               Settings(pseudonym_key=b"evaluation-only-key-0123456789ab"))
        with sessions() as session:
            mailings = mailing_store.load(session)
        engine.dispose()
    items = []
    for path in files:
        row = gold.get(path.name)
        if row is None:
            continue
        # a reply is scored on every field; another kind only on its kind (the lexicons
        # decide whether a message answers the survey at all)
        truth = ({name: row.get(name) for name in CODED_FIELDS if name in row}
                 if row.get("kind") == "reply" else {"kind": row.get("kind")})
        items.append(Item(f"{directory.name}/{path.name}", path.name, path.read_bytes(),
                          mailings, truth, language=row.get("language")))
    return items


# --------------------------------------------------------------------------- learn
@dataclass
class LearnRun:
    """A ``learn`` run: what was learned and the overlay text to check."""

    learned: Learned
    text: str


def learn_from_reviews(ctx: Context, *, dev_sets: Sequence[Path] = (), min_respondents: int = 2,
                       progress: Callable[[str], None] | None = None) -> LearnRun:
    """Propose lexicon entries from the corrections, measured on the reviewed records and the
    ``dev_sets``; the overlay text for a person to check."""
    ctx.use_overlays()
    with ctx.read_sessions() as session:
        base = overlays.active_entries(session)
    say = progress or (lambda _text: None)
    say("reading the reviewed records")
    reviewed = prepare(reviewed_items(ctx))
    dev: list[Item] = []
    for directory in dev_sets:
        say(f"coding the dev set {directory}")
        dev += prepare(dev_items(directory))
    learned = learn(reviewed, dev, base=base, min_respondents=min_respondents,
                    progress=lambda n, total: say(f"measuring expression {n} of {total}"))
    return LearnRun(learned, overlay_text(learned, when=utcnow()))


# --------------------------------------------------------------------------- apply, remove
def overlay_dir(ctx: Context) -> Path:
    configured = ctx.config["learn.overlay_dir"]
    return Path(configured).expanduser() if configured else user_data_dir() / "overlays"


def _entries_of(path: Path) -> list[dict[str, Any]]:
    """The accepted entries of an overlay file, checked against the lexicons."""
    import tomllib

    from ldn_inbox.extract._text import load_lexicon, load_lexicon_overlay

    try:
        accepted = load_lexicon_overlay(path)
        data = tomllib.loads(path.read_text("utf-8"))
    except ValueError as exc:
        raise ValidationError(f"not an overlay: {exc}") from None
    by_entry = {(str(e.get("language")), str(e.get("section")), str(e.get("key")),
                 str(e.get("expression")).strip()): e for e in data.get("entry", [])}
    out = []
    for language, section, key, expression in accepted:
        table = load_lexicon(language).data.get(section)
        if not isinstance(table, dict) or not isinstance(table.get(key), list) \
                or section == "symptom":
            raise ValidationError(f"{path}: the {language} lexicon has no list "
                                  f"[{section}] {key}")
        extra = by_entry.get((language, section, key, expression), {})
        out.append({"language": language, "section": section, "key": key,
                    "expression": expression, "field": extra.get("field"),
                    "value": extra.get("value"), "records": extra.get("records", [])})
    if not out:
        raise ValidationError(f"{path}: no accepted entry")
    return out


def _recode(ctx: Context) -> RunSummary:
    summary = RunSummary()
    settings = replace(ctx.pipeline_settings(), learn=False)
    with Ingest(ctx.sessions, settings, summary=summary):
        pass  # finishing the (empty) run re-codes what the overlays may change
    return summary


def apply_overlay(ctx: Context, path: Path, *, applied_by: str, recode: bool = True
                  ) -> tuple[LexiconOverlay, RunSummary]:
    """Install the overlay file ``path`` in ``learn.overlay_dir``, note it in the database
    and re-code the records it may change (human values are kept)."""
    entries = _entries_of(path)
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    target_dir = overlay_dir(ctx)
    try:
        target_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"learn.overlay_dir: cannot create {target_dir}: {exc.strerror}") \
            from None
    stem = re.sub(r"[^\w.-]+", "-", path.stem).strip("-.") or "overlay"
    installed = target_dir / f"{utcnow():%Y%m%d-%H%M%S}-{stem}-{sha[:8]}.toml"
    with ctx.sessions() as session:
        overlay = overlays.record(session, name=path.name, path=str(installed), sha256=sha,
                                  entries=entries, applied_by=applied_by)
        try:
            shutil.copyfile(path, installed)
        except OSError as exc:
            raise ConfigError(f"learn.overlay_dir: cannot write {installed}: "
                              f"{exc.strerror}") from None
        session.commit()
        session.refresh(overlay)
        session.expunge(overlay)
    summary = _recode(ctx) if recode else RunSummary()
    return overlay, summary


def remove_overlay(ctx: Context, ident: str, *, removed_by: str, recode: bool = True
                   ) -> tuple[LexiconOverlay, RunSummary]:
    """Set an overlay aside (its installed file stays, for the record) and re-code."""
    with ctx.sessions() as session:
        overlay = overlays.remove(session, ident.lstrip("#"), removed_by=removed_by)
        session.commit()
        session.refresh(overlay)
        session.expunge(overlay)
    summary = _recode(ctx) if recode else RunSummary()
    return overlay, summary


def list_overlays(ctx: Context, *, all_statuses: bool = True) -> list[LexiconOverlay]:
    with ctx.read_sessions() as session:
        found = overlays.listing(session, all_statuses=all_statuses)
        for overlay in found:
            session.expunge(overlay)
    return found


def describe(overlay: LexiconOverlay) -> str:
    """An overlay for people: who applied it, when, and its entries."""
    def when(value: datetime | None) -> str:
        return f"{value:%Y-%m-%d %H:%M} UTC" if value else "-"

    lines = [f"#{overlay.id} {overlay.name}: {overlay.status}, applied by "
             f"{overlay.applied_by} {when(overlay.applied_at)}"
             + (f", removed by {overlay.removed_by} {when(overlay.removed_at)}"
                if overlay.removed_at else "")
             + ("" if overlay.recoded_at else "; records not yet re-coded"),
             f"  installed as {overlay.path}"]
    for e in overlay.entries:
        lines.append(f"  {e['language']} [{e['section']}] {e['key']}: "
                     f"{e['expression']!r}" + (f" ({e['field']} = {e['value']})"
                                                 if e.get("field") else ""))
    return "\n".join(lines)


def evaluate_stored(ctx: Context, directory: Path) -> Scores:
    """Score the records stored in the database (human values applied) against the labelled
    set ``directory`` (``ldn-inbox eval --stored``): does the database say what the set says."""
    from ldn_inbox.serve.export import iter_rows

    gold_path = directory / "gold.jsonl"
    if not gold_path.is_file():
        raise SourceError(f"{directory}: no gold.jsonl")
    gold = load_gold(gold_path)
    with ctx.read_sessions() as session:
        records = {row["message_id"]: row for row in iter_rows(session)}
    return score(records, gold)


def evaluation_overlay(path: Path | None) -> None:
    """Code with the entries of the overlay file ``path`` on top of the packaged lexicons
    (``ldn-inbox eval --overlay``), or with the packaged lexicons alone."""
    if path is None:
        use_overlay([])
        return
    from ldn_inbox.extract._text import load_lexicon_overlay

    try:
        use_overlay(load_lexicon_overlay(path))
    except ValueError as exc:
        raise ValidationError(f"not an overlay: {exc}") from None


__all__ = ["apply_overlay", "describe", "dev_items", "evaluate_stored", "evaluation_overlay",
           "learn_from_reviews", "list_overlays", "overlay_dir", "remove_overlay",
           "reviewed_items", "target"]
