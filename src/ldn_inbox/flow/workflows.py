"""Multi-step jobs built from the core: evaluation on a labelled set, the bundled demo."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ldn_inbox.config import hide_url_password, load
from ldn_inbox.errors import SourceError
from ldn_inbox.flow.app import Context
from ldn_inbox.flow.pipeline import Ingest, RunSummary, Settings, ingest
from ldn_inbox.serve.evaluate import Scores, load_gold, score
from ldn_inbox.serve.export import iter_rows
from ldn_inbox.sources.files import iter_paths
from ldn_inbox.store import mailing_store
from ldn_inbox.store.db import open_database, session_factory
from ldn_inbox.store.models import MailingRecord, Message, RawSource


def mailing_files(path: Path) -> list[Path]:
    """The mailing files at ``path``: the file itself, or the files of a directory."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [path]


def evaluate_directory(directory: Path, *, mailings: Path | None = None) -> Scores:
    """Import ``directory/eml`` (or the directory itself) into a throw-away SQLite
    database and score it against ``directory/gold.jsonl`` (or the ``*.expected.json``
    files beside the messages). ``mailings``: files of what was sent, added first as
    ``ldn-inbox mailing add`` would; without them the mailings are learned from the replies."""
    eml_dir = directory / "eml" if (directory / "eml").is_dir() else directory
    gold_path = directory / "gold.jsonl"
    if gold_path.is_file():
        gold = load_gold(gold_path)
    else:
        import json

        expected = sorted(eml_dir.glob("*.expected.json"))
        if not expected:
            raise SourceError(f"{directory}: no gold.jsonl and no *.expected.json files")
        gold = [json.loads(p.read_text("utf-8")) for p in expected]
    if not eml_dir.is_dir():
        raise SourceError(f"{eml_dir} is not a directory")
    with tempfile.TemporaryDirectory(prefix="ldn-eval-") as tmp:
        engine = open_database(f"sqlite:///{tmp}/eval.sqlite")
        sessions = session_factory(engine)
        settings = Settings(pseudonym_key=b"evaluation-only-key-0123456789ab")
        if mailings is not None:
            with sessions() as session:
                for path in mailing_files(mailings):
                    text, title = mailing_store.read_mailing_file(path)
                    mailing_store.add(session, text, name=title, added_by=None)
                session.commit()
        files = sorted(eml_dir.glob("*.eml"))
        ingest(sessions, iter_paths(files, []), settings)
        records: dict[str, dict[str, Any]] = {}
        by_file: dict[str, dict[str, Any]] = {}
        with sessions() as session:
            names = {
                mid: Path(location).name
                for mid, location in session.execute(
                    sa.select(Message.message_id, RawSource.location)
                    .join(RawSource, RawSource.raw_id == Message.raw_id)
                )
            }
            for row in iter_rows(session):
                records[row["message_id"]] = row
                name = names.get(row["message_id"])
                if name:
                    by_file[name] = row
        engine.dispose()
    return score(records, gold, by_file)


@dataclass
class MailingAdded:
    """What ``mailing add`` did: the mailing, the learned ones it replaced, the re-coding."""

    added: mailing_store.Added
    recoded: RunSummary


def add_mailing(ctx: Context, path: Path, *, name: str | None = None,
                added_by: str | None = None, recode: bool = True) -> MailingAdded:
    """Add the mailing in ``path`` and re-code the records it may change (reviewed values
    are kept, as by ``reparse``)."""
    text, found_name = mailing_store.read_mailing_file(path)
    with ctx.sessions() as session:
        added = mailing_store.add(session, text, name=name or found_name, added_by=added_by)
        session.commit()
        session.refresh(added.record)
        session.expunge(added.record)
    summary = RunSummary()
    if recode:
        with Ingest(ctx.sessions, ctx.pipeline_settings(), summary=summary):
            pass  # finishing the (empty) run re-codes what the new knowledge may change
    return MailingAdded(added, summary)


def remove_mailing(ctx: Context, ident: str, *, recode: bool = True
                   ) -> tuple[MailingRecord, RunSummary]:
    """Set a mailing aside and re-code the records that quoted it."""
    with ctx.sessions() as session:
        record = mailing_store.remove(session, ident)
        session.commit()
        session.refresh(record)
        session.expunge(record)
    summary = RunSummary()
    if recode:
        settings = replace(ctx.pipeline_settings(), learn=False)
        with Ingest(ctx.sessions, settings, summary=summary):
            pass
    return record, summary


def list_mailings(ctx: Context, *, all_statuses: bool = False) -> list[MailingRecord]:
    with ctx.read_sessions() as session:
        records = mailing_store.listing(session, all_statuses=all_statuses)
        for record in records:
            session.expunge(record)
    return records


def sample_mailbox() -> Path:
    return Path(str(resources.files("ldn_inbox").joinpath("data/sample/sample.mbox")))


def run_demo(ctx: Context) -> str:
    """Import the bundled sample mailbox into the configured database; a short summary."""
    from ldn_inbox.serve.report import summary_text

    summary = ingest(ctx.sessions, iter_paths([sample_mailbox()], []), ctx.pipeline_settings())
    with ctx.sessions() as session:
        text = summary_text(session)
    where = hide_url_password(ctx.db_url)
    return f"imported the sample mailbox into {where}: {summary.line()}\n\n{text}"


__all__ = ["add_mailing", "evaluate_directory", "list_mailings", "load", "remove_mailing",
           "run_demo", "sample_mailbox"]
