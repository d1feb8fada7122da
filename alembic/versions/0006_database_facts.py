"""database facts: the fingerprint of the pseudonym key the respondent ids were made with

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 00:13:11.603843

A database made before this revision gets its fingerprint on the first run that needs the
key, once that key is shown to give the stored contacts' pseudonyms.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "database_facts",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_database_facts")),
    )


def downgrade() -> None:
    op.drop_table("database_facts")
