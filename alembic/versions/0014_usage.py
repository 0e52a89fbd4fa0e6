"""usage: billable calls and pages read per UTC day, key and service (jobs.usage)

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("pages", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "key_id", "service"),
    )


def downgrade() -> None:
    op.drop_table("usage")
