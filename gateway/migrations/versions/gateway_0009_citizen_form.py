"""The citizen QR form (issue 18): its cases are Open311 requests with a status-page token (hashed), the
submission they came from, whether the reporter is anonymous, and the rating given on the status page

Revision ID: gateway_0009_citizen_form
Revises: gateway_0008
Create Date: 2026-12-06 02:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0009_citizen_form"
down_revision = "gateway_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("open311_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("form_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("anonymous", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("satisfaction", sa.String(length=32), nullable=True))
        batch_op.create_index("uq_open311_requests_status_token", ["status_token_hash"], unique=True)
        batch_op.create_index("uq_open311_requests_form_key", ["form_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("open311_requests", schema=None) as batch_op:
        batch_op.drop_index("uq_open311_requests_form_key")
        batch_op.drop_index("uq_open311_requests_status_token")
        batch_op.drop_column("satisfaction")
        batch_op.drop_column("rated_at")
        batch_op.drop_column("anonymous")
        batch_op.drop_column("form_key")
        batch_op.drop_column("status_token_hash")
