"""job fair tag: workers claim the queued job with the smallest (fair_tag, created_at), so keys share the
workers instead of queueing first-come, first-served (``jobs.fairness``)

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Jobs queued before the upgrade get tag 0: they go first, in the order they came, as they would have.
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fair_tag", sa.Float(), nullable=False, server_default="0"))
        batch_op.create_index("ix_jobs_fair_claim", ["status", "fair_tag", "created_at"])
        batch_op.create_index("ix_jobs_owner_status_tag", ["owner_key_id", "status", "fair_tag"])


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_owner_status_tag")
        batch_op.drop_index("ix_jobs_fair_claim")
        batch_op.drop_column("fair_tag")
