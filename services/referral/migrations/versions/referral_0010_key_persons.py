"""Key persons and households (重点人员 / 七色户卡, issue 18): each person's visit schedule as intake
says it, and the worklist's key person column

Revision ID: referral_0010_key_persons
Revises: referral_0009_grid
Create Date: 2026-12-06 02:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "referral_0010_key_persons"
down_revision = "referral_0009_grid"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_person_schedules",
        sa.Column("key_person_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("colour", sa.String(length=16), nullable=False),
        sa.Column("colour_name_zh", sa.String(length=16), nullable=False),
        sa.Column("every_working_days", sa.Integer(), nullable=False),
        sa.Column("centre_id", sa.String(length=12), nullable=False),
        sa.Column("grid_code", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_person_id"),
    )
    # tasks.grid (whose worker does a task) came with referral_0009_grid.
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("key_person_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("key_person_id")
    op.drop_table("key_person_schedules")
