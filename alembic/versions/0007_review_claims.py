"""review claims: the records open on a reviewer's screen, so that two screens show
different records

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 00:28:27.080944
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_claims",
        sa.Column("message_pk", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["message_pk"], ["messages.id"],
                                name=op.f("fk_review_claims_message_pk_messages"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_pk", name=op.f("pk_review_claims")),
    )
    with op.batch_alter_table("review_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_claims_until"), ["until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_claims_until"))
    op.drop_table("review_claims")
