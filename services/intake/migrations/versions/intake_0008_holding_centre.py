"""Centre scoping (issue 14): the centre holding each case, copied from referral's events

Revision ID: intake_0008
Revises: intake_0007
Create Date: 2026-12-05 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0008"
down_revision = "intake_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("centre_id", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("centre_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_cases_centre", ["centre_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_centre")
        batch.drop_column("centre_at")
        batch.drop_column("centre_id")
