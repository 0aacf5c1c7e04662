"""Grid workers' reports (issue 18): the report's facts beside its case, and its photos

Revision ID: intake_0010_attachments
Revises: intake_0009
Create Date: 2026-12-06 02:50:00
"""

import sqlalchemy as sa
from alembic import op


revision = "intake_0010_attachments"
down_revision = "intake_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grid_reports",
        sa.Column("case_no", sa.String(length=32), primary_key=True),
        sa.Column("grid", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.String(length=64)),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("latitude", sa.Float()),
        sa.Column("longitude", sa.Float()),
        sa.Column("accuracy_m", sa.Float()),
        sa.Column("observed_at", sa.DateTime(timezone=True)),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_grid_reports_grid", "grid_reports", ["grid", "reported_at"])
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("case_no", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("scan", sa.String(length=16), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_attachments_case", "attachments", ["case_no"])


def downgrade() -> None:
    op.drop_index("ix_attachments_case", table_name="attachments")
    op.drop_table("attachments")
    op.drop_index("ix_grid_reports_grid", table_name="grid_reports")
    op.drop_table("grid_reports")
