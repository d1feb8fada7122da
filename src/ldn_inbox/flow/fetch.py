"""``ldn-inbox fetch`` and ``check``: new mail of one IMAP folder into the raw store, once.

Exactly once, whatever stops a run (SIGKILL, a lost connection, a server restart):

* The ledger (``imap_ledger``) has one row per (account, folder, UIDVALIDITY, UID), written
  by the pipeline's ``on_stored`` hook in the same transaction as the raw bytes: a message is
  either stored and ledgered or neither. A killed run may make the next one fetch a message
  again, never store it twice.
* The next run asks for ``UID SEARCH UID n:*`` with n one above the highest ledgered UID of
  the folder's current UIDVALIDITY, then fetches in batches of ``imap.batch_size``.
* ``imap.after`` (seen / move:FOLDER) is written into the ledger row as pending and applied on
  the server only once the batch is committed; what a killed run left pending is applied at
  the start of the next.
* A new UIDVALIDITY voids the old UIDs: the folder is read again from the start. Known bytes
  are recognised by sha256 (ledger status ``duplicate``, no second raw row); the same
  Message-ID with other bytes is kept raw but gets no second coded record.
* Each UID FETCH batch is stored in one transaction with its ledger rows; coding follows
  in worker processes (``run.workers``) while the next batch downloads. A message stored by
  a run that died before coding it is coded by the next run.
* Messages the server fails to deliver are recorded as ``failed`` with the error and retried
  by every later run; the run goes on and ends with exit code 6.

A lock file stops overlapping runs (:class:`LockedError`, exit code 7).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.errors import DatabaseError, SourceError
from ldn_inbox.flow.app import Context
from ldn_inbox.flow.pipeline import Ingest, RunSummary, Settings, batches, code_uncoded
from ldn_inbox.flow.quick import take_lock
from ldn_inbox.flow.summary import FetchSummary
from ldn_inbox.sources.base import RawItem
from ldn_inbox.sources.imap import (
    BACKOFF_S,
    CheckReport,
    FetchedMessage,
    FetchFailure,
    FolderReset,
    ImapMailbox,
    ImapSettings,
    resolve_credential,
)
from ldn_inbox.store.models import ImapLedger, table_of, utcnow

if TYPE_CHECKING:
    from ldn_inbox.store.rawstore import Stored

log = logging.getLogger(__name__)

#: UIDs per STORE / MOVE command when applying ``imap.after``.
ACTION_CHUNK = 500
#: UIDVALIDITY changes tolerated within one run (each restarts the folder from UID 1).
MAX_FOLDER_RESETS = 3
_LEDGER_STATUS = {"new": "stored", "known": "duplicate", "forgotten": "forgotten"}

Progress = Callable[[int, int], None]


@dataclass
class _Counts:
    too_big: int = 0
    failed: int = 0
    vanished: int = 0
    applied: int = 0
    recovered: int = 0
    uidvalidity_changed: bool = False


def check(ctx: Context) -> CheckReport:
    """Connect, log in, list folders and open the configured one (no database needed)."""
    settings = ImapSettings.from_config(ctx.config)
    credential = resolve_credential(settings)
    with ImapMailbox(settings, credential) as mailbox:
        return mailbox.check()


def fetch(ctx: Context, *, progress: Progress | None = None,
          backoff: Sequence[float] = BACKOFF_S) -> FetchSummary:
    """Fetch the folder's new messages into the raw store and code them.

    Raises :class:`LockedError` when another run holds the lock, and the source, config and
    database errors of the steps below.
    """
    settings = ImapSettings.from_config(ctx.config)
    lock = take_lock(ctx.lock_path())
    try:
        summary = _fetch_locked(ctx, settings, progress, backoff)
        log.info("%s", summary.time_line())
        return summary
    except sa.exc.OperationalError as exc:
        raise DatabaseError(f"database error while fetching: {exc.orig}") from None
    finally:
        lock.release()


def _fetch_locked(ctx: Context, settings: ImapSettings, progress: Progress | None,
                  backoff: Sequence[float]) -> FetchSummary:
    started = time.monotonic()
    credential = resolve_credential(settings)
    sessions = ctx.sessions
    pipeline_settings = ctx.pipeline_settings()
    setup_seconds = time.monotonic() - started
    summary = RunSummary()
    counts = _Counts()
    counts.recovered = code_uncoded(sessions, pipeline_settings, summary)
    with ImapMailbox(settings, credential, backoff=backoff) as mailbox:
        state = mailbox.open()
        if settings.move_target is not None:
            mailbox.require_folder(settings.move_target)
        for attempt in range(1, MAX_FOLDER_RESETS + 2):
            try:
                _fetch_folder(mailbox, state.uidvalidity, sessions, settings,
                              pipeline_settings, summary, counts, progress)
                break
            except FolderReset as exc:
                if attempt > MAX_FOLDER_RESETS:
                    raise SourceError(f"{exc}, and kept changing during the run; try again "
                                      "later") from None
                log.info("%s during the run", exc)
                assert mailbox.state is not None
                state = mailbox.state
                counts.uidvalidity_changed = True
        return FetchSummary(
            account=settings.account, folder=settings.folder, uidvalidity=state.uidvalidity,
            fetched=summary.seen, new=summary.new, known=summary.known,
            forgotten=summary.forgotten, duplicate_id=summary.duplicate_id,
            coded=summary.coded, quarantined=summary.quarantined, too_big=counts.too_big,
            failed=counts.failed, vanished=counts.vanished, applied=counts.applied,
            recovered=counts.recovered, uidvalidity_changed=counts.uidvalidity_changed,
            reconnects=mailbox.reconnects, seconds=time.monotonic() - started,
            imap_seconds=mailbox.io_seconds, after=settings.after,
            setup_seconds=setup_seconds, waits=summary.waits)


def _ledger_key(settings: ImapSettings, uidvalidity: int) -> list[sa.ColumnElement[bool]]:
    return [ImapLedger.account == settings.account, ImapLedger.folder == settings.folder,
            ImapLedger.uidvalidity == uidvalidity]


def _chunks(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _apply_after(mailbox: ImapMailbox, sessions: Callable[[], Session],
                 settings: ImapSettings, uidvalidity: int, action: str,
                 uids: Sequence[int]) -> int:
    """Apply ``action`` to ``uids`` on the server, then clear it in the ledger."""
    for chunk in _chunks(uids, ACTION_CHUNK):
        if action == "seen":
            mailbox.mark_seen(chunk)
        else:
            mailbox.move(chunk, action[5:])
        with sessions() as session:
            session.execute(
                sa.update(ImapLedger)
                .where(*_ledger_key(settings, uidvalidity), ImapLedger.uid.in_(list(chunk)))
                .values(pending_action=None))
            session.commit()
    return len(uids)


def _record_failure(sessions: Callable[[], Session], settings: ImapSettings,
                    uidvalidity: int, failure: FetchFailure) -> None:
    status = "vanished" if failure.vanished else "failed"
    with sessions() as session:
        session.merge(ImapLedger(account=settings.account, folder=settings.folder,
                                 uidvalidity=uidvalidity, uid=failure.uid, raw_id=None,
                                 status=status, error=failure.error, fetched_at=utcnow(),
                                 pending_action=None))
        session.commit()


def _read_ledger(sessions: Callable[[], Session], settings: ImapSettings, uidvalidity: int,
                 counts: _Counts) -> tuple[int, list[Any], list[int]]:
    """The ledger's state for this pass: the last UID stored, the pending imap.after actions
    (those of an older UIDVALIDITY dropped) and the UIDs to retry."""
    key = _ledger_key(settings, uidvalidity)
    folder = (ImapLedger.account == settings.account, ImapLedger.folder == settings.folder)
    with sessions() as session:
        last_uid = session.scalar(sa.select(sa.func.max(ImapLedger.uid)).where(*key))
        if last_uid is None:
            earlier = session.scalar(sa.select(ImapLedger.uidvalidity).where(*folder).limit(1))
            if earlier is not None:
                counts.uidvalidity_changed = True
                log.warning("UIDVALIDITY of %r is new (%d): reading the whole folder again; "
                            "messages already stored are recognised by their bytes",
                            settings.folder, uidvalidity)
        pending = list(session.execute(
            sa.select(ImapLedger.uidvalidity, ImapLedger.uid, ImapLedger.pending_action)
            .where(ImapLedger.pending_action.is_not(None), *folder)
            .order_by(ImapLedger.uid)).all())
        retry = list(session.scalars(
            sa.select(ImapLedger.uid).where(*key, ImapLedger.status == "failed")
            .order_by(ImapLedger.uid)))
        stale = [row.uid for row in pending if row.uidvalidity != uidvalidity]
        if stale:
            # Those UIDs belong to a folder state that no longer exists.
            log.warning("%d pending imap.after action(s) dropped: UIDVALIDITY changed",
                        len(stale))
            session.execute(
                sa.update(ImapLedger)
                .where(*folder, ImapLedger.uidvalidity != uidvalidity,
                       ImapLedger.pending_action.is_not(None))
                .values(pending_action=None))
            session.commit()
    return int(last_uid or 0), pending, retry


def _apply_leftovers(mailbox: ImapMailbox, sessions: Callable[[], Session],
                     settings: ImapSettings, uidvalidity: int, pending: list[Any],
                     counts: _Counts) -> None:
    """Finish the imap.after actions an interrupted run left pending."""
    leftovers: dict[str, list[int]] = {}
    for row in pending:
        if row.uidvalidity == uidvalidity:
            leftovers.setdefault(str(row.pending_action), []).append(int(row.uid))
    if leftovers and mailbox.state is not None and mailbox.state.readonly:
        log.warning("imap.after actions of an earlier run are pending but imap.after = none "
                    "opens the folder read-only; they stay pending")
        return
    for action, uids in leftovers.items():
        log.info("applying %s to %d message(s) left by an interrupted run", action, len(uids))
        counts.applied += _apply_after(mailbox, sessions, settings, uidvalidity, action, uids)


def _raw_item(result: FetchedMessage, settings: ImapSettings, uidvalidity: int,
              counts: _Counts) -> RawItem:
    """A downloaded message as a raw item; a truncated one carries its error."""
    store_error = None
    if result.truncated:
        counts.too_big += 1
        store_error = (f"message of {result.size} bytes is larger than "
                       f"imap.max_message_bytes = {settings.max_message_bytes}: "
                       "only its header was stored")
    return RawItem(result.data, "imap", settings.location, f"{uidvalidity}/{result.uid}",
                   result.received_at, store_error)


def _fetch_folder(mailbox: ImapMailbox, uidvalidity: int, sessions: Callable[[], Session],
                  settings: ImapSettings, pipeline_settings: Settings, summary: RunSummary,
                  counts: _Counts, progress: Progress | None) -> None:
    """One pass over the folder at ``uidvalidity``: leftovers, retries, then new UIDs."""
    last_uid, pending, retry = _read_ledger(sessions, settings, uidvalidity, counts)
    _apply_leftovers(mailbox, sessions, settings, uidvalidity, pending, counts)

    new_uids = mailbox.uids_after(last_uid)
    todo = retry + new_uids
    retried = set(retry)
    log.info("folder %r: %d new message(s), %d to retry", settings.folder, len(new_uids),
             len(retry))
    total = len(todo)
    if progress is not None:
        progress(0, total)

    downloaded = 0

    def on_stored(session: Session, batch: list[tuple[RawItem, Stored]]) -> None:
        now = utcnow()
        new: list[dict[str, Any]] = []
        for item, stored in batch:
            complete = item.store_error is None
            row = {"account": settings.account, "folder": settings.folder,
                   "uidvalidity": uidvalidity, "uid": int(item.key.rsplit("/", 1)[1]),
                   "raw_id": stored.raw_id,
                   "status": _LEDGER_STATUS[stored.status] if complete else "too_big",
                   "error": item.store_error, "fetched_at": now,
                   "pending_action": settings.after if settings.after != "none" and complete
                   else None}
            # Only a retried UID has a row already (status failed); the others are new.
            if row["uid"] in retried:
                session.merge(ImapLedger(**row))
            else:
                new.append(row)
        if new:
            session.execute(table_of(ImapLedger).insert(), new)

    with Ingest(sessions, pipeline_settings, summary=summary, on_stored=on_stored) as run:
        for batch in _chunks(todo, settings.batch_size):
            items: list[RawItem] = []
            done: list[int] = []
            for result in mailbox.fetch(batch):
                downloaded += 1
                if isinstance(result, FetchFailure):
                    _record_failure(sessions, settings, uidvalidity, result)
                    if result.vanished:
                        counts.vanished += 1
                    else:
                        counts.failed += 1
                        log.warning("message UID %d not fetched: %s", result.uid,
                                    result.error)
                else:
                    item = _raw_item(result, settings, uidvalidity, counts)
                    items.append(item)
                    if item.store_error is None:
                        done.append(result.uid)
                # per message downloaded (or failed); storing and coding follow by batch
                if progress is not None:
                    progress(downloaded, total)
            # the batch's bytes and ledger rows are committed here, before imap.after
            for part in batches(items, pipeline_settings):
                run.add(part)
            if settings.after != "none" and done:
                counts.applied += _apply_after(mailbox, sessions, settings, uidvalidity,
                                               settings.after, done)


__all__ = ["FetchSummary", "check", "fetch"]
