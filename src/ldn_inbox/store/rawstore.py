"""The raw store: every message's exact bytes, kept before anything is parsed.

Dedupe is on the bytes' sha256: the same bytes from a second source add a source row, not a
second message. Different bytes with the same Message-ID are both kept (the coded record is
per Message-ID, see pipeline.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ldn_inbox.parse.message_ids import (
    hash_message_id,
    message_id_of,
    sha256_hex,
)
from ldn_inbox.sources.base import RawItem
from ldn_inbox.store.models import RawMessage, RawSource, Tombstone, table_of, utcnow
from ldn_inbox.store.packing import pack


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
    per item (the caller commits). Same outcome as storing one after the other: an item
    whose bytes came earlier in the batch is ``known``. The rows are written with multi-row
    INSERTs, not ORM objects: this is a large fetch's main work besides downloading."""
    digests = [sha256_hex(item.data) for item in items]
    message_ids = [message_id_of(item.data) for item in items]
    raws = table_of(RawMessage)
    known: dict[str, tuple[int, str]] = {}  # sha256 -> (id, message_id)
    for chunk in in_chunks(sorted(set(digests))):
        known.update((digest, (pk, message_id)) for pk, digest, message_id in session.execute(
            sa.select(raws.c.id, raws.c.sha256, raws.c.message_id)
            .where(raws.c.sha256.in_(chunk))))
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
    statuses: list[str] = []
    rows: list[dict[str, Any]] = []
    made: dict[str, int] = {}  # sha256 -> index in rows
    now = utcnow()
    for item, digest, message_id in zip(items, digests, message_ids, strict=True):
        if digest in known or digest in made:
            statuses.append("known")
        elif digest in erased_sha or message_id in erased_ids:
            statuses.append("forgotten")
        else:
            stored, codec = pack(item.data)
            made[digest] = len(rows)
            rows.append({"sha256": digest, "size": len(item.data), "data": stored,
                         "codec": codec, "message_id": message_id, "first_seen_at": now,
                         "store_error": item.store_error, "purged_at": None})
            statuses.append("new")
    if rows:
        pks = session.execute(raws.insert().returning(raws.c.id, sort_by_parameter_order=True),
                              rows).scalars().all()
        known.update((row["sha256"], (pk, row["message_id"]))
                     for row, pk in zip(rows, pks, strict=True))
    results = [Stored(None, status, message_id, digest) if status == "forgotten"
               else Stored(known[digest][0], status, known[digest][1], digest)
               for status, digest, message_id in zip(statuses, digests, message_ids,
                                                      strict=True)]
    # sources: one per (raw, place); only rows stored before can have some already
    wanted = [(stored.raw_id, _source_hash(item), item)
              for item, stored in zip(items, results, strict=True) if stored.raw_id is not None]
    existing: set[tuple[int, str]] = set()
    made_ids = {known[digest][0] for digest in made}
    old = sorted({h for raw_id, h, _ in wanted if raw_id not in made_ids})
    for chunk in in_chunks(old):
        existing.update((raw_id, source_hash) for raw_id, source_hash in session.execute(
            sa.select(RawSource.raw_id, RawSource.source_hash)
            .where(RawSource.source_hash.in_(chunk))))
    sources: list[dict[str, Any]] = []
    for raw_id, source_hash, item in wanted:
        if raw_id is not None and (raw_id, source_hash) not in existing:
            existing.add((raw_id, source_hash))
            sources.append({"raw_id": raw_id, "source_type": item.source_type,
                            "location": item.location, "key": item.key,
                            "source_hash": source_hash, "seen_at": now})
    if sources:
        session.execute(table_of(RawSource).insert(), sources)
    return results
