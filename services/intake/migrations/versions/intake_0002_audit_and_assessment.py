"""audit log; override, category correction and merge columns on cases; address keys recomputed

Address keys are recomputed because address normalisation now drops leading administrative
divisions and roads ("包头市昆都仑区…街道东方花园…" and "东方花园…" are one address); without it,
cases registered before the upgrade would not be found as the same address as later ones.

Revision ID: intake_0002
Revises: intake_0001
Create Date: 2026-11-22 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from hub.kit_migrations import create_audit_log, drop_audit_log
from services.intake.domain.duplicates import normalise_address

revision = "intake_0002"
down_revision = "intake_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_log()

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("override_actor_role", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("override_actor_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("overridden_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("category_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("merged_into", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("merged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("duties", sa.JSON(), nullable=True))

    recompute_address_keys()


def recompute_address_keys() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT case_no, address, address_key FROM cases")).all()
    for case_no, address, old_key in rows:
        new_key = normalise_address(address)
        if new_key != old_key:
            bind.execute(
                sa.text("UPDATE cases SET address_key = :key WHERE case_no = :case_no"),
                {"key": new_key, "case_no": case_no},
            )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("duties")
        batch_op.drop_column("merged_at")
        batch_op.drop_column("merged_into")
        batch_op.drop_column("category_reason")
        batch_op.drop_column("overridden_at")
        batch_op.drop_column("override_actor_id")
        batch_op.drop_column("override_actor_role")
        batch_op.drop_column("override_reason")

    drop_audit_log()
