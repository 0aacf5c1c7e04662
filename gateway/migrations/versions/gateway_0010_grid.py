"""Grid workers (issue 18): a person's grid code (网格), for role grid_worker

Revision ID: gateway_0010_grid
Revises: gateway_0009_citizen_form
Create Date: 2026-12-06 02:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0010_grid"
down_revision = "gateway_0009_citizen_form"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("grid", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("grid")
