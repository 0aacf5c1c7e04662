"""delivery receipts, department and recovery columns; opt-outs; inbound SMS replies

Revision ID: notification_0002
Revises: notification_0001
Create Date: 2026-11-22 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "notification_0002"
down_revision = "notification_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column(
            "recipient_kind",
            existing_type=sa.String(length=16),
            type_=sa.String(length=24),
            existing_nullable=False,
        )
        batch_op.add_column(sa.Column("department", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("receipt_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("receipt_code", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("receipt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("recovery", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_deliveries_provider_ref", ["provider_ref"], unique=False)
        batch_op.create_index("ix_deliveries_status_created", ["status", "created_at"], unique=False)

    op.create_table(
        "opt_outs",
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone_hash"),
    )
    op.create_table(
        "inbound_replies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("content_enc", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("satisfaction", sa.String(length=32), nullable=True),
        sa.Column("case_no", sa.String(length=32), nullable=True),
        sa.Column("delivery_id", sa.String(length=36), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key"),
    )
    with op.batch_alter_table("inbound_replies", schema=None) as batch_op:
        batch_op.create_index("ix_inbound_replies_delivery", ["delivery_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbound_replies", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_replies_delivery")
    op.drop_table("inbound_replies")
    op.drop_table("opt_outs")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_status_created")
        batch_op.drop_index("ix_deliveries_provider_ref")
        batch_op.drop_column("recovery")
        batch_op.drop_column("receipt_at")
        batch_op.drop_column("receipt_code")
        batch_op.drop_column("receipt_status")
        batch_op.drop_column("department")
        batch_op.alter_column(
            "recipient_kind",
            existing_type=sa.String(length=24),
            type_=sa.String(length=16),
            existing_nullable=False,
        )
