"""line style (handwriting or other, with a confidence), for Read v3.2 appearance and DocIntel styles

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("style", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("style_confidence", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lines", schema=None) as batch_op:
        batch_op.drop_column("style_confidence")
        batch_op.drop_column("style")
