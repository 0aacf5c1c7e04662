"""Who acted, in the audit log (issue 14): the principal's kind (user | client | system) and a person's
display name, as the gateway's internal credential names them

Revision ID: intake_0005
Revises: intake_0004
Create Date: 2026-12-05 11:00:00
"""

from hub.kit_migrations import add_audit_actor_columns, drop_audit_actor_columns

revision = "intake_0005"
down_revision = "intake_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Entries written before keep NULL and verify as they did (hub/audit.py entry_of).
    add_audit_actor_columns()


def downgrade() -> None:
    drop_audit_actor_columns()
