"""Who acted, in the audit log (issue 14): the principal's kind (user | client | system) and a person's
display name, as the gateway's internal credential names them

Revision ID: referral_0006
Revises: referral_0005
Create Date: 2026-12-05 11:00:00
"""

from hub.kit_migrations import add_audit_actor_columns, drop_audit_actor_columns

revision = "referral_0006"
down_revision = "referral_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Entries written before keep NULL and verify as they did (hub/audit.py entry_of).
    add_audit_actor_columns()


def downgrade() -> None:
    drop_audit_actor_columns()
