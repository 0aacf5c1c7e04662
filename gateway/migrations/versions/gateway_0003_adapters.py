"""Adapters to external systems: links, seen cases, the outbound delivery ledger, webhook nonces,
inbound urges/ratings already handled, back-fill cursors

Revision ID: gateway_0003
Revises: gateway_0002
Create Date: 2026-11-23 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0003"
down_revision = "gateway_0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN = "status IN ('pending', 'sending')"


def upgrade() -> None:
    op.create_table(
        "adapter_links",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("case_no", sa.String(length=32), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("delivered_round", sa.Integer(), server_default="0", nullable=False),
        sa.Column("delivered_rank", sa.Integer(), server_default="-1", nullable=False),
        sa.Column("delivered_update", sa.String(length=32), nullable=True),
        sa.Column("external_state", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("system", "external_ref", name="uq_adapter_links_ref"),
        sa.UniqueConstraint("system", "case_no", name="uq_adapter_links_case"),
    )
    op.create_index("ix_adapter_links_case", "adapter_links", ["case_no"], unique=False)

    op.create_table(
        "adapter_cases",
        sa.Column("case_no", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("round", sa.Integer(), server_default="0", nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_no"),
    )

    op.create_table(
        "adapter_deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("update_id", sa.String(length=36), nullable=False),
        sa.Column("case_no", sa.String(length=32), nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("update_name", sa.String(length=32), nullable=False),
        sa.Column("update_key", sa.String(length=80), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("external_state", sa.String(length=32), nullable=True),
        sa.Column("traceparent", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("update_id"),
        sa.UniqueConstraint("case_no", "system", "update_key", name="uq_adapter_deliveries_update"),
    )
    op.create_index(
        "ix_adapter_deliveries_case", "adapter_deliveries", ["case_no", "system", "id"], unique=False
    )
    op.create_index(
        "ix_adapter_deliveries_open",
        "adapter_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.create_index("ix_adapter_deliveries_status", "adapter_deliveries", ["status", "id"], unique=False)

    op.create_table(
        "adapter_nonces",
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("system", "nonce", name="pk_adapter_nonces"),
    )
    op.create_index("ix_adapter_nonces_expiry", "adapter_nonces", ["expires_at"], unique=False)

    op.create_table(
        "adapter_inbound",
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("case_no", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("system", "kind", "external_id", name="pk_adapter_inbound"),
    )

    op.create_table(
        "adapter_cursors",
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("adapter_cursors")
    op.drop_table("adapter_inbound")
    op.drop_index("ix_adapter_nonces_expiry", table_name="adapter_nonces")
    op.drop_table("adapter_nonces")
    op.drop_index("ix_adapter_deliveries_status", table_name="adapter_deliveries")
    op.drop_index(
        "ix_adapter_deliveries_open",
        table_name="adapter_deliveries",
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )
    op.drop_index("ix_adapter_deliveries_case", table_name="adapter_deliveries")
    op.drop_table("adapter_deliveries")
    op.drop_table("adapter_cases")
    op.drop_index("ix_adapter_links_case", table_name="adapter_links")
    op.drop_table("adapter_links")
