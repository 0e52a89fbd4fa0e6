"""job callbacks (native API's callback_url)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("callback_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("callback_base", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("callback_state", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("callback_attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("callback_next_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("callback_error", sa.Text(), nullable=True))
        batch_op.create_index("ix_jobs_callback_due", ["callback_state", "callback_next_at"])


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_callback_due")
        for name in (
            "callback_error",
            "callback_next_at",
            "callback_attempts",
            "callback_state",
            "callback_base",
            "callback_url",
        ):
            batch_op.drop_column(name)
