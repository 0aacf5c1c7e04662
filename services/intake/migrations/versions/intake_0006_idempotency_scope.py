"""Edge limits (issue 14): the digest of the request body an Idempotency-Key was first used with, on
cases and case notes (the key column now holds a digest of the caller and the key)

Revision ID: intake_0006
Revises: intake_0005
Create Date: 2026-12-05 11:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0006"
down_revision = "intake_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("cases", "case_notes"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("idempotency_body", sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in ("cases", "case_notes"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("idempotency_body")
