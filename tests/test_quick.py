"""The fetch with nothing new (``flow/quick.py``) against a real Dovecot and real SQLite files.

It must change nothing, answer as the full run answers, and hand over to the full run
whenever the database or the folder has anything to do; the full run then does it, and
the next run is a quick one again.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import filelock
import pytest
from servers import DovecotServer
from test_imap import ALICE, fill, imap_env, imap_options, invoke, message, new_folder

from ldn_inbox import config
from ldn_inbox.errors import LockedError
from ldn_inbox.flow.app import Context
from ldn_inbox.flow.fetch import FetchSummary, fetch
from ldn_inbox.flow.quick import quick_fetch, sqlite_file
from ldn_inbox.sources.base import RawItem
from ldn_inbox.store import mailing_store, overlays
from ldn_inbox.store.db import parse_url, sqlite_path
from ldn_inbox.store.glance import look
from ldn_inbox.store.keyfile import key_fingerprint, key_path, load_key
from ldn_inbox.store.rawstore import store_many
from ldn_inbox.store.revision import head_revision

__all__ = ["imap_env"]  # the fixture, shared with test_imap

pytestmark = pytest.mark.imap

MAILING = ("Beste deelnemer,\n\n1. Gebruikt u LDN, en sinds wanneer?\n"
           "2. Wie schreef het voor?\n3. Wat merkt u ervan?\n4. Heeft u bijwerkingen?\n\n"
           "Met vriendelijke groet,\nde werkgroep\n")


def settings(db_url: str, dovecot: DovecotServer, folder: str, **imap: object
             ) -> config.Config:
    values: dict[str, object] = {"host": "127.0.0.1", "port": dovecot.imaps_port,
                                 "ca_file": str(dovecot.ca_file), "username": ALICE,
                                 "folder": folder, **imap}
    return config.load().with_overrides(
        {"db": db_url, **{f"imap.{key}": value for key, value in values.items()}})


def full(cfg: config.Config) -> FetchSummary:
    ctx = Context(cfg)
    try:
        return fetch(ctx)
    finally:
        ctx.close()


def dump(db_url: str) -> list[str]:
    """Every row of the database, as SQL."""
    path = sqlite_file(db_url)
    assert path is not None
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


def timeless(summary: FetchSummary) -> FetchSummary:
    return dataclasses.replace(summary, seconds=0.0, imap_seconds=0.0, setup_seconds=0.0)


@pytest.fixture
def fetched(dovecot: DovecotServer, imap_env: Path, sqlite_url: str
            ) -> tuple[str, str]:
    """A folder of three messages, fetched once by the full run: (database URL, folder)."""
    folder = new_folder(dovecot, "Quick")
    fill(dovecot, folder, [message(n, "quick") for n in range(1, 4)])
    assert full(settings(sqlite_url, dovecot, folder)).new == 3
    return sqlite_url, folder


def test_nothing_new_changes_nothing_and_new_mail_is_fetched_next(
        dovecot: DovecotServer, fetched: tuple[str, str],
        caplog: pytest.LogCaptureFixture) -> None:
    url, folder = fetched
    cfg = settings(url, dovecot, folder)
    before, status = dump(url), dovecot.status(ALICE, folder)

    quick = quick_fetch(cfg)
    assert quick is not None, "nothing to do, yet the quick run handed over"
    assert dump(url) == before
    assert dovecot.status(ALICE, folder) == status, "the folder changed (EXAMINE expected)"
    # the same answer as the full run's with nothing new, times apart
    assert timeless(quick) == timeless(full(cfg))
    assert quick.line().startswith(f"default/{folder}: 0 fetched, 0 new, 0 already stored")
    assert dump(url) == before

    # the same -v lines as well, times apart
    def lines() -> list[tuple[str, str]]:
        return [(r.name, re.sub(r"\d+\.\d+ s", "T s", r.getMessage()))
                for r in caplog.records if r.name.startswith("ldn_inbox")]

    with caplog.at_level(logging.INFO):
        full(cfg)
        full_lines = lines()
        caplog.clear()
        assert quick_fetch(cfg) is not None
        assert lines() == full_lines
    assert len(full_lines) == 2

    fill(dovecot, folder, [message(4, "quick")])
    assert quick_fetch(cfg) is None, "a new message must hand over to the full run"
    assert dump(url) == before, "handing over wrote something"
    assert full(cfg).new == 1
    assert quick_fetch(cfg) is not None


def _store_uncoded(cfg: config.Config) -> None:
    """What a run killed between storing and coding leaves: raw bytes, no record."""
    ctx = Context(cfg)
    try:
        with ctx.sessions() as session:
            store_many(session, [RawItem(message(9, "uncoded"), "file", "/tmp/x.eml")])
            session.commit()
    finally:
        ctx.close()


def _sql(cfg: config.Config, statement: str) -> None:
    path = sqlite_file(str(cfg["db"]))
    assert path is not None
    with sqlite3.connect(path) as conn:
        assert conn.execute(statement).rowcount > 0


def _add_mailing(cfg: config.Config) -> None:
    ctx = Context(cfg)
    try:
        ctx.write(mailing_store.add, MAILING, name="Vragen over LDN", added_by="test")
    finally:
        ctx.close()


def _apply_overlay(cfg: config.Config) -> None:
    ctx = Context(cfg)
    try:
        ctx.write(overlays.record, name="extra.toml", path="/nowhere/extra.toml",
                  sha256="0" * 64, entries=[], applied_by="test")
    finally:
        ctx.close()


MAX_UID = "(SELECT MAX(uid) FROM imap_ledger)"
#: what makes the full run necessary, what the debug line names, imap settings of the runs
CONDITIONS: dict[str, tuple[Callable[[config.Config], None], str, dict[str, str]]] = {
    "uncoded raw message": (_store_uncoded, "code raw messages", {}),
    "pending imap.after": (
        lambda cfg: _sql(cfg, f"UPDATE imap_ledger SET pending_action = 'seen' "
                              f"WHERE uid = {MAX_UID}"),
        "imap.after actions left pending", {"after": "seen"}),
    "failed UID": (
        lambda cfg: _sql(cfg, f"UPDATE imap_ledger SET status = 'failed', raw_id = NULL "
                              f"WHERE uid = {MAX_UID}"),
        "retry failed UIDs", {}),
    "new UIDVALIDITY": (
        lambda cfg: _sql(cfg, "UPDATE imap_ledger SET uidvalidity = uidvalidity + 1"),
        "new UIDVALIDITY", {}),
    "mailing added": (_add_mailing, "mailings known now", {}),
    "overlay applied": (_apply_overlay, "lexicon overlays", {}),
    "stale record": (
        lambda cfg: _sql(cfg, "UPDATE extractions SET knowledge = 'older' WHERE message_pk = "
                              "(SELECT MIN(message_pk) FROM extractions)"),
        "mailings known now", {}),
}


@pytest.mark.parametrize("condition", list(CONDITIONS))
def test_each_kind_of_work_hands_over_to_the_full_run(
        dovecot: DovecotServer, fetched: tuple[str, str], condition: str,
        caplog: pytest.LogCaptureFixture) -> None:
    url, folder = fetched
    make, reason, imap = CONDITIONS[condition]
    cfg = settings(url, dovecot, folder, **imap)
    if imap:  # the full run with these settings first (imap.after = seen marks them seen)
        full(cfg)
    assert quick_fetch(cfg) is not None
    make(cfg)
    before = dump(url)
    with caplog.at_level(logging.DEBUG, logger="ldn_inbox.flow.quick"):
        assert quick_fetch(cfg) is None
    assert reason in caplog.text
    assert dump(url) == before, "handing over wrote something"
    full(cfg)  # does the work
    assert quick_fetch(cfg) is not None, "the full run left work the quick run still sees"


def test_look_names_schema_and_key(fetched: tuple[str, str]) -> None:
    url, _folder = fetched
    path = sqlite_file(url)
    assert path is not None
    key = key_fingerprint(load_key(key_path(config.load())))
    common = {"account": "default", "folder": _folder}
    assert look(path, head=head_revision(), key_fingerprint=key, **common).work is None
    assert "schema" in str(look(path, head="0001", key_fingerprint=key, **common).work)
    assert "key" in str(look(path, head=head_revision(), key_fingerprint="0" * 16,
                             **common).work)
    assert "first time" in str(look(path, head=head_revision(), key_fingerprint=key,
                                    account="other", folder=_folder).work)
    assert "create the database" in str(look(path.with_name("none.sqlite"),
                                             head=head_revision(), key_fingerprint=key,
                                             **common).work)


def test_another_key_fails_as_the_full_run_does(dovecot: DovecotServer,
                                                 fetched: tuple[str, str], runner,
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url, folder = fetched
    monkeypatch.setenv("LDN_INBOX_PRIVACY_KEY_FILE", str(tmp_path / "missing.key"))
    result = invoke(runner, url, "fetch", *imap_options(dovecot, folder), code=3)
    assert "does not exist" in result.stderr
    other = tmp_path / "other.key"
    other.write_text("ab" * 32 + "\n")
    monkeypatch.setenv("LDN_INBOX_PRIVACY_KEY_FILE", str(other))
    result = invoke(runner, url, "fetch", *imap_options(dovecot, folder), code=3)
    assert "holds another key" in result.stderr


@pytest.mark.parametrize("url", [
    "sqlite:///relative/file.sqlite", "sqlite:////abs/file.sqlite",
    "sqlite+pysqlite:///~/file.sqlite", "sqlite:///", "sqlite:///:memory:",
    "sqlite:///file:x?mode=ro&uri=true", "sqlite:///a%20b.sqlite",
    "postgresql+psycopg://user@host/db"])
def test_sqlite_file_reads_urls_as_sqlalchemy_does_or_not_at_all(url: str) -> None:
    mine = sqlite_file(url)
    if mine is not None:
        assert mine == sqlite_path(parse_url(url))
    elif url.startswith("sqlite") and "%" not in url and "?" not in url:
        assert sqlite_path(parse_url(url)) is None


def test_the_quick_run_takes_the_full_runs_lock(dovecot: DovecotServer,
                                                fetched: tuple[str, str]) -> None:
    """Another run holding the lock stops a quick run as it stops a full one (exit 7)."""
    url, folder = fetched
    cfg = settings(url, dovecot, folder)
    ctx = Context(cfg)
    try:
        held = filelock.FileLock(str(ctx.lock_path()), timeout=0)
    finally:
        ctx.close()
    with held:
        with pytest.raises(LockedError, match="another ldn-inbox run holds the lock"):
            quick_fetch(cfg)
    assert quick_fetch(cfg) is not None


def test_a_missing_move_target_fails_as_in_the_full_run(dovecot: DovecotServer,
                                                         fetched: tuple[str, str], runner
                                                         ) -> None:
    url, folder = fetched
    result = invoke(runner, url, "fetch", *imap_options(dovecot, folder),
                    "--after", "move:NoSuchFolder", code=4)
    assert "NoSuchFolder" in result.stderr
