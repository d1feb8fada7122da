"""imap_ledger.pending_action: the after-fetch action still to apply on the server

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("imap_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_action", sa.String(length=1000), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_imap_ledger_pending_action"), ["pending_action"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("imap_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_imap_ledger_pending_action"))
        batch_op.drop_column("pending_action")
