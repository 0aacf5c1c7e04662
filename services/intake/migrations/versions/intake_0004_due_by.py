"""12345 dual track (issue 12): the channel's limit on a case (办理时限) and whose it is

Revision ID: intake_0004
Revises: intake_0003
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0004"
down_revision = "intake_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("due_by", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("due_by_source", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("due_by_source")
        batch.drop_column("due_by")
