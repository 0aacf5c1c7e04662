"""indexes for the ops views (stalled, idle, statistics)

- deadlines: open deadlines by due time (partial), so `/ops/stalled` and the overdue gauges read only
  open deadlines past due, whatever the number of closed ones;
- referrals: by status and last change, for idle detection;
- cases: by registration time, for date-range statistics and the monthly report.

Revision ID: referral_0003
Revises: referral_0002
Create Date: 2026-11-29 19:20:00.000000
"""

from alembic import op
import sqlalchemy as sa

revision = "referral_0003"
down_revision = "referral_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_deadlines_open_due",
        "deadlines",
        ["due_at"],
        postgresql_where=sa.text("status = 'open'"),
        sqlite_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_referrals_status_updated", "referrals", ["status", "updated_at"])
    op.create_index("ix_cases_registered_at", "cases", ["registered_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_registered_at", table_name="cases")
    op.drop_index("ix_referrals_status_updated", table_name="referrals")
    op.drop_index("ix_deadlines_open_due", table_name="deadlines")
