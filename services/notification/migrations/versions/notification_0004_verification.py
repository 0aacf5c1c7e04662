"""SMS verification codes for the citizen QR form (issue 18): hashed codes, attempts, expiry

Revision ID: notification_0004_verification
Revises: notification_0003
Create Date: 2026-12-06 02:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "notification_0004_verification"
down_revision = "notification_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("window_key", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("bound_to", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("provider_ref", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("window_key"),
    )
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.create_index("ix_verifications_phone_created", ["phone_hash", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("verifications", schema=None) as batch_op:
        batch_op.drop_index("ix_verifications_phone_created")
    op.drop_table("verifications")
