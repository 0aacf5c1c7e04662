"""text signals: the case's `urgent` mark and the notes added after registration (case_notes)

Cases registered before this keep the colour they were given; a note or a category correction on
one of them grades it again with its text read.

Revision ID: intake_0003
Revises: intake_0002
Create Date: 2026-12-04 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0003"
down_revision = "intake_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "case_notes",
        sa.Column("case_no", sa.String(length=32), nullable=False),
        sa.Column("note_no", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_no", "note_no"),
        sa.UniqueConstraint("idempotency_key", name="uq_case_notes_idempotency_key"),
    )


def downgrade() -> None:
    op.drop_table("case_notes")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("urgent")
