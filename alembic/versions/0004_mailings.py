"""mailings as data: the mailings table, and what each extraction knew of them

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mailings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=400), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("senders", sa.Integer(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailings")),
        sa.UniqueConstraint("key", name=op.f("uq_mailings_key")),
    )
    with op.batch_alter_table("mailings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mailings_status"), ["status"], unique=False)
    with op.batch_alter_table("extractions", schema=None) as batch_op:
        # records coded before mailings were data knew none: "" makes the next run look again
        batch_op.add_column(sa.Column("knowledge", sa.String(length=16), server_default="",
                                      nullable=False))
        batch_op.add_column(sa.Column("mailing_keys", sa.JSON(), nullable=False,
                                      server_default="[]"))
        batch_op.add_column(sa.Column("unexplained", sa.Integer(), server_default="0",
                                      nullable=False))
        batch_op.add_column(sa.Column("learn_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("extractions", schema=None) as batch_op:
        batch_op.drop_column("learn_text")
        batch_op.drop_column("unexplained")
        batch_op.drop_column("mailing_keys")
        batch_op.drop_column("knowledge")
    with op.batch_alter_table("mailings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailings_status"))
    op.drop_table("mailings")
