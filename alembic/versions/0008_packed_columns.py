"""packed columns: raw bytes zlib-compressed (raw_messages.codec), quoted and learn texts
kept as zlib streams (messages.quoted_packed, extractions.learn_packed)

Existing rows are not rewritten: a NULL codec is the bytes as they came, and the old text
columns stay readable until a row is written again. Only columns are added, so SQLite does not
copy the tables (a copy would drop and re-create ``messages``, which the other tables reference
with ON DELETE CASCADE). The downgrade writes every packed value back in its plain form first.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 03:10:00
"""

import zlib
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op


revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 500


def upgrade() -> None:
    op.add_column("raw_messages", sa.Column("codec", sa.String(length=16), nullable=True))
    op.add_column("messages", sa.Column("quoted_packed", sa.LargeBinary(), nullable=True))
    op.add_column("extractions", sa.Column("learn_packed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    conn = op.get_bind()
    _unpack_rows(conn, "SELECT id, data FROM raw_messages WHERE codec = 'zlib'",
                 "UPDATE raw_messages SET data = :value WHERE id = :key", _unzip)
    # the learn texts first: they are packed against the quoted texts
    _unpack_rows(conn, "SELECT e.message_pk, e.learn_packed, m.quoted_packed, m.quoted_text "
                       "FROM extractions e JOIN messages m ON m.id = e.message_pk "
                       "WHERE e.learn_packed IS NOT NULL",
                 "UPDATE extractions SET learn_text = :value WHERE message_pk = :key",
                 _learn_text, key="e.message_pk")
    _unpack_rows(conn, "SELECT id, quoted_packed FROM messages WHERE quoted_packed IS NOT NULL",
                 "UPDATE messages SET quoted_text = :value WHERE id = :key",
                 lambda packed: _unzip(packed).decode("utf-8", "surrogatepass"))
    for table, column in (("raw_messages", "codec"), ("messages", "quoted_packed"),
                          ("extractions", "learn_packed")):
        _drop_column(table, column)


def _unzip(packed: bytes, against: bytes | None = None) -> bytes:
    unpacker = zlib.decompressobj(zdict=against[-32768:]) if against else zlib.decompressobj()
    return unpacker.decompress(packed) + unpacker.flush()


def _learn_text(packed: bytes, quoted_packed: bytes | None, quoted_text: str | None) -> str:
    quoted = _unzip(quoted_packed) if quoted_packed is not None else (
        (quoted_text or "").encode("utf-8", "surrogatepass"))
    against = quoted if packed[1] & 0x20 else None  # zlib's FDICT flag
    return _unzip(packed, against).decode("utf-8", "surrogatepass")


def _unpack_rows(conn: sa.Connection, select: str, update: str,
                 unpack: Callable[..., Any], key: str = "id") -> None:
    """``update`` every row of ``select`` (key, packed, ...) with ``unpack(packed, ...)``,
    in batches."""
    last = None
    while True:
        after = "" if last is None else (" AND " if " WHERE " in select else " WHERE ") + \
            f"{key} > :last"
        rows = conn.execute(sa.text(f"{select}{after} ORDER BY {key} LIMIT {_BATCH}"),
                            {"last": last}).all()
        if not rows:
            return
        conn.execute(sa.text(update),
                     [{"key": row[0], "value": unpack(*row[1:])} for row in rows])
        last = rows[-1][0]


def _drop_column(table: str, column: str) -> None:
    """Drop ``column`` without copying ``table`` (SQLite 3.35+ drops a plain column itself)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    else:
        op.drop_column(table, column)
