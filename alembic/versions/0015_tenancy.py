"""tenancy: per-key limits, subscriptions, rate buckets and admissions (ocrgw.tenancy)

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("subscription_required", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "key_limits",
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.String(length=40), nullable=True),
        sa.Column("rate", sa.Integer(), nullable=True),
        sa.Column("rate_seconds", sa.Integer(), server_default="1", nullable=False),
        sa.Column("burst", sa.Integer(), nullable=True),
        sa.Column("concurrent_jobs", sa.Integer(), nullable=True),
        sa.Column("pages_quota", sa.BigInteger(), nullable=True),
        sa.Column("quota_period", sa.String(length=8), server_default="month", nullable=False),
        sa.Column("max_document_pages", sa.Integer(), nullable=True),
        sa.Column("max_file_bytes", sa.BigInteger(), nullable=True),
        sa.Column("backlog_share", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key_id", "service"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("package_calls", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key_id", "service"),
    )
    op.create_table(
        "limit_state",
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("tat", sa.Float(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("key_id", "scope"),
    )
    op.create_table(
        "admissions",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("pages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "scope"),
    )
    op.create_index("ix_admissions_key_scope", "admissions", ["key_id", "scope"])


def downgrade() -> None:
    op.drop_index("ix_admissions_key_scope", table_name="admissions")
    op.drop_table("admissions")
    op.drop_table("limit_state")
    op.drop_table("subscriptions")
    op.drop_table("key_limits")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("subscription_required")
