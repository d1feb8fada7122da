"""learn texts as lines of the quoted text: no schema change, a new form of
extractions.learn_packed

From this revision a learn text that is a run of its message's quoted lines that each start
with "> " (the mark taken off) is kept as a reference to them: the byte 0x01, then the run's
first line and length in ASCII (``ldn_inbox.store.packing``). Existing rows keep their zlib
streams, which are still read. The downgrade writes each reference back as revision 0008
reads it: a zlib stream with the quoted text as its preset dictionary.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 20:30:00
"""

import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 500
_LINES = b"\x01"


def upgrade() -> None:
    pass


def downgrade() -> None:
    conn = op.get_bind()
    last = None
    while True:
        after = "" if last is None else " AND e.message_pk > :last"
        rows = conn.execute(sa.text(
            "SELECT e.message_pk, e.learn_packed, m.quoted_packed, m.quoted_text "
            "FROM extractions e JOIN messages m ON m.id = e.message_pk "
            f"WHERE e.learn_packed IS NOT NULL{after} ORDER BY e.message_pk LIMIT {_BATCH}"),
            {"last": last}).all()
        if not rows:
            return
        changed = [{"key": pk, "value": _as_stream(bytes(packed), quoted_packed, quoted_text)}
                   for pk, packed, quoted_packed, quoted_text in rows
                   if bytes(packed[:1]) == _LINES]
        if changed:
            conn.execute(sa.text(
                "UPDATE extractions SET learn_packed = :value WHERE message_pk = :key"), changed)
        last = rows[-1][0]


def _as_stream(packed: bytes, quoted_packed: bytes | None, quoted_text: str | None) -> bytes:
    """The learn text ``packed`` refers to, as revision 0008 keeps it."""
    quoted = zlib.decompress(quoted_packed).decode("utf-8", "surrogatepass") \
        if quoted_packed is not None else quoted_text or ""
    first, count = map(int, packed[1:].split())
    lines = quoted.split("\n")[first:first + count]
    text = "\n".join(line[2:] for line in lines).encode("utf-8", "surrogatepass")
    against = quoted.encode("utf-8", "surrogatepass")[-32768:]
    packer = zlib.compressobj(6, zdict=against)
    return packer.compress(text) + packer.flush()
