"""Who acted, in the gateway's audit log too: the principal's kind and a person's display name (the
kit's audit table gained them with the internal credential)

Revision ID: gateway_0007
Revises: gateway_0006
Create Date: 2026-12-05 12:30:00
"""

from hub.kit_migrations import add_audit_actor_columns, drop_audit_actor_columns

revision = "gateway_0007"
down_revision = "gateway_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_audit_actor_columns()


def downgrade() -> None:
    drop_audit_actor_columns()
