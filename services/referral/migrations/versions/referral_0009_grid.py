"""Grid workers (issue 18): the grid of a case and of a task, and the workers' on-site check-ins

- cases.grid_code: the grid (网格) the case was reported in (case.registered.v1's grid_code);
- tasks.grid: the grid whose worker does the task (a grid visit, a follow-up of a case of the grid, a
  key person's visit), indexed with status and due time for the worker's list;
- grid_visits: each check-in (when, the point, the outcome, the masked note, the worker's user id).

Revision ID: referral_0009_grid
Revises: referral_0008
Create Date: 2026-12-06 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "referral_0009_grid"
down_revision = "referral_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grid_code", sa.String(length=64), nullable=True))
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grid", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_tasks_grid_status", ["grid", "status", "due_at"], unique=False)
    op.create_table(
        "grid_visits",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("case_no", sa.String(length=32), nullable=False),
        sa.Column("grid", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("grid_visits", schema=None) as batch_op:
        batch_op.create_index("ix_grid_visits_task", ["task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("grid_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_grid_visits_task")
    op.drop_table("grid_visits")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_grid_status")
        batch_op.drop_column("grid")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("grid_code")
