"""tiered centres, loaded holiday schedules, procedure snapshots, audit log

- cases: the centre holding the case (centre_id), where it was finally resolved (resolved_centre_id,
  resolved_level) and when a red case was put before the district (district_alerted_at);
- referrals: the centre that dispatched it and a snapshot of the procedure it runs under, so a changed
  procedures.yaml never changes a running deadline's rules;
- centre_moves: every 上报 (escalate) and 下派 (delegate), with its reason;
- holiday_schedules: official schedules loaded by `hub calendar load` or the console;
- audit_log: the hash-chained, append-only audit log (hub/audit.py), as intake has.

Revision ID: referral_0002
Revises: referral_0001
Create Date: 2026-11-29 19:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

from hub.kit_migrations import create_audit_log, drop_audit_log

revision = "referral_0002"
down_revision = "referral_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("centre_id", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("resolved_centre_id", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("resolved_level", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("district_alerted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_cases_centre", ["centre_id"], unique=False)
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("centre_id", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("procedure_snapshot", sa.JSON(), nullable=True))

    op.create_table(
        "centre_moves",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("case_no", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("from_centre", sa.String(length=12), nullable=True),
        sa.Column("to_centre", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_no"], ["cases.case_no"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("centre_moves", schema=None) as batch_op:
        batch_op.create_index("ix_centre_moves_case", ["case_no"], unique=False)

    op.create_table(
        "holiday_schedules",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("workdays", sa.JSON(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )

    create_audit_log()


def downgrade() -> None:
    drop_audit_log()
    op.drop_table("holiday_schedules")
    with op.batch_alter_table("centre_moves", schema=None) as batch_op:
        batch_op.drop_index("ix_centre_moves_case")
    op.drop_table("centre_moves")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_column("procedure_snapshot")
        batch_op.drop_column("centre_id")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_centre")
        batch_op.drop_column("district_alerted_at")
        batch_op.drop_column("resolved_level")
        batch_op.drop_column("resolved_centre_id")
        batch_op.drop_column("centre_id")
