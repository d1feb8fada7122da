"""The raw store: every message's exact bytes, kept before anything is parsed.

Dedupe is on the bytes' sha256: the same bytes from a second source add a source row, not a
second message. Different bytes with the same Message-ID are both kept (the coded record is
per Message-ID, see pipeline.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.parse.message_ids import (
    hash_message_id,
    message_id_of,
    sha256_hex,
)
from ldn_inbox.sources.base import RawItem
from ldn_inbox.store.models import RawMessage, RawSource, Tombstone


#: Longest Message-ID kept verbatim; longer (hostile) ones are cut and suffixed with a hash so
#: they still fit a unique index on every backend.
@dataclass(frozen=True)
class Stored:
    """Outcome of storing one raw item.

    :ivar status: ``new`` (bytes stored now), ``known`` (same bytes were stored before) or
        ``forgotten`` (erased earlier on request: not stored again).
    """

    raw_id: int | None
    status: str
    message_id: str
    sha256: str
    #: the row itself when it was stored now
    raw: RawMessage | None = None


def _source_hash(item: RawItem) -> str:
    return sha256_hex(f"{item.source_type}|{item.location}|{item.key}".encode("utf-8",
                                                                               "surrogateescape"))


def store(session: Session, item: RawItem) -> Stored:
    """Add ``item`` to the raw store (flushes; the caller commits)."""
    return store_many(session, [item])[0]


def in_chunks(values: list[str], size: int = 500) -> Iterator[list[str]]:
    """``values`` in lists short enough for one ``IN (...)`` on every backend."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def store_many(session: Session, items: Sequence[RawItem]) -> list[Stored]:
    """:func:`store` for a batch, with a few queries for the whole batch instead of several
    per item (flushes; the caller commits). Same outcome as storing one after the other:
    an item whose bytes came earlier in the batch is ``known``."""
    digests = [sha256_hex(item.data) for item in items]
    message_ids = [message_id_of(item.data) for item in items]
    known: dict[str, RawMessage] = {}
    for chunk in in_chunks(sorted(set(digests))):
        known.update((raw.sha256, raw) for raw in session.scalars(
            sa.select(RawMessage).where(RawMessage.sha256.in_(chunk))))
    unknown = [i for i, digest in enumerate(digests) if digest not in known]
    erased_sha: set[str] = set()
    erased_ids: set[str] = set()
    if unknown:
        id_hashes = {hash_message_id(message_ids[i]): message_ids[i] for i in unknown}
        for chunk in in_chunks(sorted({digests[i] for i in unknown})):
            erased_sha.update(s for s in session.scalars(
                sa.select(Tombstone.sha256).where(Tombstone.sha256.in_(chunk))) if s)
        for chunk in in_chunks(sorted(id_hashes)):
            erased_ids.update(id_hashes[h] for h in session.scalars(
                sa.select(Tombstone.message_id_hash)
                .where(Tombstone.message_id_hash.in_(chunk))) if h)
    outcome: list[tuple[str, RawMessage | None]] = []
    made: dict[str, RawMessage] = {}
    for item, digest, message_id in zip(items, digests, message_ids, strict=True):
        if digest in known or digest in made:
            outcome.append(("known", known.get(digest) or made[digest]))
        elif digest in erased_sha or message_id in erased_ids:
            outcome.append(("forgotten", None))
        else:
            raw = RawMessage.of(item.data, sha256=digest, size=len(item.data),
                                message_id=message_id, store_error=item.store_error)
            session.add(raw)
            made[digest] = raw
            outcome.append(("new", raw))
    session.flush()  # one multi-row INSERT for the new rows
    # sources: one per (raw, place); only known rows can have some already
    wanted = [(raw.id, _source_hash(item), item) for item, (_, raw) in zip(items, outcome,
                                                                           strict=True)
              if raw is not None]
    existing: set[tuple[int, str]] = set()
    made_ids = {raw.id for raw in made.values()}
    old = sorted({h for raw_id, h, _ in wanted if raw_id not in made_ids})
    for chunk in in_chunks(old):
        existing.update((raw_id, source_hash) for raw_id, source_hash in session.execute(
            sa.select(RawSource.raw_id, RawSource.source_hash)
            .where(RawSource.source_hash.in_(chunk))))
    for raw_id, source_hash, item in wanted:
        if (raw_id, source_hash) not in existing:
            existing.add((raw_id, source_hash))
            session.add(RawSource(raw_id=raw_id, source_type=item.source_type,
                                  location=item.location, key=item.key,
                                  source_hash=source_hash))
    session.flush()
    results = []
    for (status, row), digest, message_id in zip(outcome, digests, message_ids, strict=True):
        if row is None:
            results.append(Stored(None, status, message_id, digest))
        else:
            results.append(Stored(row.id, status, row.message_id, digest,
                                  row if status == "new" else None))
    return results
