"""the worklist: tasks for a centre (follow-ups, weak signals) and what early warning has seen

- tasks: one row per follow-up that fell due and per weak signal (a burst in a grid or street, a
  repeat reporter), for the responsible centre; `dedup_key` makes each one once;
- task_actions: created, snoozed, done, with who and the (masked) note;
- signal_sightings: each live registration's category, street and grid codes and reporter key (a
  keyed hash), indexed by time so detection does not grow with history, and the tasks holding it
  (a weak signal's case list).

Revision ID: referral_0005
Revises: referral_0004
Create Date: 2026-12-01 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

revision = "referral_0005"
down_revision = "referral_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("centre_id", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("case_no", sa.String(length=32), nullable=False),
        sa.Column("case_count", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("colour", sa.String(length=16), nullable=True),
        sa.Column("cadence", sa.String(length=16), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("signal_key", sa.String(length=160), nullable=True),
        sa.Column("scope", sa.String(length=8), nullable=True),
        sa.Column("area", sa.String(length=64), nullable=True),
        sa.Column("reporter_key", sa.String(length=64), nullable=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key"),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_centre_status", ["centre_id", "status"], unique=False)
        batch_op.create_index("ix_tasks_status_due", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_tasks_signal_window", ["signal_key", "window_start"], unique=False)

    op.create_table(
        "task_actions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("task_actions", schema=None) as batch_op:
        batch_op.create_index("ix_task_actions_task", ["task_id"], unique=False)

    op.create_table(
        "signal_sightings",
        sa.Column("case_no", sa.String(length=32), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("street_code", sa.String(length=12), nullable=True),
        sa.Column("grid_code", sa.String(length=64), nullable=True),
        sa.Column("reporter_key", sa.String(length=64), nullable=True),
        sa.Column("grid_task_id", sa.String(length=36), nullable=True),
        sa.Column("street_task_id", sa.String(length=36), nullable=True),
        sa.Column("reporter_task_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("case_no"),
    )
    with op.batch_alter_table("signal_sightings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_signal_sightings_grid", ["grid_code", "category", "registered_at"], unique=False
        )
        batch_op.create_index(
            "ix_signal_sightings_street", ["street_code", "category", "registered_at"], unique=False
        )
        batch_op.create_index("ix_signal_sightings_reporter", ["reporter_key", "registered_at"], unique=False)
        batch_op.create_index("ix_signal_sightings_grid_task", ["grid_task_id"], unique=False)
        batch_op.create_index("ix_signal_sightings_street_task", ["street_task_id"], unique=False)
        batch_op.create_index("ix_signal_sightings_reporter_task", ["reporter_task_id"], unique=False)


def downgrade() -> None:
    op.drop_table("signal_sightings")
    op.drop_table("task_actions")
    op.drop_table("tasks")
