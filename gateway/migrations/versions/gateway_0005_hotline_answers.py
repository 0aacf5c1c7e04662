"""12345 dual track (issue 12): a merged case's links follow the case it was merged into

12345's answers to our extension requests (延期审核) are kept once per application in
`adapter_inbound` (kind `delay_audit`), which needs no change.

Revision ID: gateway_0005
Revises: gateway_0004
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0005"
down_revision = "gateway_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("adapter_links") as batch:
        batch.add_column(sa.Column("follows_case_no", sa.String(length=32), nullable=True))
        batch.create_index("ix_adapter_links_follows", ["follows_case_no"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("adapter_links") as batch:
        batch.drop_index("ix_adapter_links_follows")
        batch.drop_column("follows_case_no")
