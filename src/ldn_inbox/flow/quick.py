"""A fetch with nothing new, without SQLAlchemy: the nightly run's common case.

For a SQLite database, :func:`quick_fetch` takes the run's lock, looks at the database with
the ``sqlite3`` module (:func:`ldn_inbox.store.glance.look`: schema, pseudonym key, raw
messages without a record, the folder's ledger, stale records, lexicon overlays), then
logs in, opens the folder as the full run does and asks for ``UID SEARCH UID n:*``. When
the database has nothing to do, the folder's UIDVALIDITY is one the ledger knows without a
failed UID to retry, and the server has no UID above the last one stored, the run ends
there, having written nothing. Anything else (or anything it cannot tell) hands over to the
full run (:func:`ldn_inbox.flow.fetch.fetch`), which does everything again from the start.
The answer, output and exit codes are those of the full run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import filelock

from ldn_inbox import config as config_module
from ldn_inbox.errors import LockedError
from ldn_inbox.flow.summary import FetchSummary
from ldn_inbox.sources.imap import (
    FolderReset,
    ImapMailbox,
    ImapSettings,
    resolve_credential,
)
from ldn_inbox.store.glance import Look, look
from ldn_inbox.store.keyfile import key_fingerprint, key_path, load_key
from ldn_inbox.store.revision import head_revision

log = logging.getLogger(__name__)
#: the lines a run with nothing new logs are the full run's, under its name (``-v``)
fetch_log = logging.getLogger("ldn_inbox.flow.fetch")

_SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")


def load_config(config_path: str | None, db: str | None) -> config_module.Config:
    """The configuration of a command: defaults, file, environment, then ``--db``."""
    cfg = config_module.load(config_path)
    return cfg.with_overrides({"db": db}) if db else cfg


def sqlite_file(url: str) -> Path | None:
    """The file of a plain SQLite URL (``sqlite:///path``), read without SQLAlchemy; None
    for any other URL, and for those whose reading takes more than this (a query string,
    %-escapes, ``:memory:``, ``file:`` URIs)."""
    for prefix in _SQLITE_PREFIXES:
        if url.startswith(prefix):
            database = url[len(prefix):]
            if not database or database == ":memory:" or database.startswith("file:") \
                    or any(c in database for c in "?%#"):
                return None
            return Path(database).expanduser()
    return None


def lock_file(cfg: config_module.Config, database: Path | None) -> Path:
    """``run.lock_file``, else ``DATABASE.lock`` beside a SQLite file, else one in the user
    data dir (PostgreSQL): every run on one database takes the same lock."""
    configured = cfg["run.lock_file"]
    if configured:
        return Path(configured).expanduser()
    if database is not None:
        resolved = database.expanduser().resolve()
        return resolved.with_name(resolved.name + ".lock")
    return config_module.user_data_dir() / "ldn-inbox.lock"


def take_lock(path: Path) -> filelock.FileLock:
    """The run's lock, taken; :class:`LockedError` when another run holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise LockedError(f"another ldn-inbox run holds the lock {path}; this run stops "
                          "without fetching (the next one catches up)") from None
    return lock


def _look(cfg: config_module.Config, settings: ImapSettings, database: Path) -> Look:
    """The database's answer; a missing or unreadable key leaves it to the full run."""
    path = key_path(cfg)
    if not path.is_file():
        return Look("create the pseudonym key")
    try:
        fingerprint = key_fingerprint(load_key(path))
    except Exception as exc:  # the full run reports it
        return Look(f"read the pseudonym key ({type(exc).__name__})")
    return look(database, account=settings.account, folder=settings.folder,
                head=head_revision(), key_fingerprint=fingerprint)


def quick_fetch(cfg: config_module.Config) -> FetchSummary | None:
    """A fetch that finds nothing to do, done with the ``sqlite3`` module; None when the
    full run is needed (it then starts from the beginning).

    Raises what the full run raises for the same configuration, lock, credential and
    server: :class:`~ldn_inbox.errors.ConfigError`, :class:`LockedError`, the source errors.
    """
    database = sqlite_file(str(cfg["db"]))
    if database is None:
        return None
    settings = ImapSettings.from_config(cfg)
    lock = take_lock(lock_file(cfg, database))
    try:
        return _quick_locked(cfg, settings, database)
    finally:
        lock.release()


def _quick_locked(cfg: config_module.Config, settings: ImapSettings,
                  database: Path) -> FetchSummary | None:
    started = time.monotonic()
    found = _look(cfg, settings, database)
    if found.work is not None:
        log.debug("full run: %s", found.work)
        return None
    credential = resolve_credential(settings)
    setup_seconds = time.monotonic() - started
    with ImapMailbox(settings, credential) as mailbox:
        state = mailbox.open()
        if settings.move_target is not None:
            mailbox.require_folder(settings.move_target)
        ledger = found.ledgers.get(state.uidvalidity)
        if ledger is None or ledger.failed:
            log.debug("full run: %s", "retry failed UIDs" if ledger else "new UIDVALIDITY")
            return None
        try:
            new = mailbox.uids_after(ledger.last_uid)
        except FolderReset:
            log.debug("full run: UIDVALIDITY changed")
            return None
        if new:
            log.debug("full run: %d new message(s)", len(new))
            return None
        fetch_log.info("folder %r: %d new message(s), %d to retry", settings.folder, 0, 0)
        summary = FetchSummary(
            account=settings.account, folder=settings.folder, uidvalidity=state.uidvalidity,
            fetched=0, new=0, known=0, forgotten=0, duplicate_id=0, coded=0, quarantined=0,
            too_big=0, failed=0, vanished=0, applied=0, recovered=0,
            uidvalidity_changed=False, reconnects=mailbox.reconnects,
            seconds=time.monotonic() - started, imap_seconds=mailbox.io_seconds,
            after=settings.after, setup_seconds=setup_seconds)
    fetch_log.info("%s", summary.time_line())
    return summary


__all__ = ["load_config", "lock_file", "quick_fetch", "sqlite_file", "take_lock"]
