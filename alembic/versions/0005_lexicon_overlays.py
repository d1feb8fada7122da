"""lexicon overlays: entries learned from the reviewers' corrections, who applied them, when

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 00:13:49.286713
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lexicon_overlays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=400), nullable=False),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("applied_by", sa.String(length=200), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_by", sa.String(length=200), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recoded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lexicon_overlays")),
    )
    with op.batch_alter_table("lexicon_overlays", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lexicon_overlays_status"), ["status"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lexicon_overlays", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lexicon_overlays_status"))
    op.drop_table("lexicon_overlays")
