"""Key persons and households (重点人员 / 七色户卡, issue 18): each person's visit schedule as intake
says it, and the worklist's grid (whose worker does a task) and key person columns

Revision ID: referral_0010_key_persons
Revises: referral_0008
Create Date: 2026-12-06 02:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "referral_0010_key_persons"
down_revision = "referral_0008"
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
    # The grid branch (issue 18, grid workers) adds tasks.grid too: whichever migration runs first adds it.
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("tasks")}
    with op.batch_alter_table("tasks") as batch:
        if "grid" not in present:
            batch.add_column(sa.Column("grid", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("key_person_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("key_person_id")
        batch.drop_column("grid")
    op.drop_table("key_person_schedules")
