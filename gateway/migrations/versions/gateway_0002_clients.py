"""API clients (OAuth2 client credentials) and the cases filed through Open311

Revision ID: gateway_0002
Revises: gateway_0001
Create Date: 2026-11-23 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0002"
down_revision = "gateway_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("system", sa.String(length=32), nullable=True),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
    )
    op.create_table(
        "open311_requests",
        sa.Column("service_request_id", sa.String(length=32), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("jurisdiction_id", sa.String(length=64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("service_request_id"),
    )
    with op.batch_alter_table("open311_requests", schema=None) as batch_op:
        batch_op.create_index("ix_open311_requests_requested_at", ["requested_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("open311_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_open311_requests_requested_at")
    op.drop_table("open311_requests")
    op.drop_table("clients")
