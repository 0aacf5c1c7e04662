"""12345 dual track (issue 12): a channel's limit (办理时限) on the case and under the lead's handling
deadline; the centre's 回退 of a case to its channel

Revision ID: referral_0004
Revises: referral_0003
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "referral_0004"
down_revision = "referral_0003"
branch_labels = None
depends_on = None

AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("due_by", AT, nullable=True))
        batch.add_column(sa.Column("due_by_source", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("channel_return_code", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("channel_return_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("deadlines") as batch:
        batch.add_column(sa.Column("own_due_at", AT, nullable=True))
        batch.add_column(sa.Column("external_due_at", AT, nullable=True))
        batch.add_column(sa.Column("external_source", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("floor_at", AT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deadlines") as batch:
        for column in ("floor_at", "external_source", "external_due_at", "own_due_at"):
            batch.drop_column(column)
    with op.batch_alter_table("cases") as batch:
        for column in ("channel_return_reason", "channel_return_code", "due_by_source", "due_by"):
            batch.drop_column(column)
