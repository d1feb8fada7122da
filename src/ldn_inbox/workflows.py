"""Multi-step jobs built from the core: evaluation on a labelled set, the bundled demo."""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ldn_inbox.app import Context
from ldn_inbox.config import hide_url_password, load
from ldn_inbox.db import open_database, session_factory
from ldn_inbox.errors import SourceError
from ldn_inbox.evaluate import Scores, load_gold, score
from ldn_inbox.export import iter_rows
from ldn_inbox.models import Message, RawSource
from ldn_inbox.pipeline import Settings, ingest
from ldn_inbox.sources.files import iter_paths


def evaluate_directory(directory: Path) -> Scores:
    """Import ``directory/eml`` (or the directory itself) into a throw-away SQLite
    database and score it against ``directory/gold.jsonl`` (or the ``*.expected.json``
    files beside the messages)."""
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


def sample_mailbox() -> Path:
    return Path(str(resources.files("ldn_inbox").joinpath("data/sample/sample.mbox")))


def run_demo(ctx: Context) -> str:
    """Import the bundled sample mailbox into the configured database; a short summary."""
    from ldn_inbox.report import summary_text

    summary = ingest(ctx.sessions, iter_paths([sample_mailbox()], []), ctx.pipeline_settings())
    with ctx.sessions() as session:
        text = summary_text(session)
    where = hide_url_password(ctx.db_url)
    return f"imported the sample mailbox into {where}: {summary.line()}\n\n{text}"


__all__ = ["evaluate_directory", "load", "run_demo", "sample_mailbox"]
