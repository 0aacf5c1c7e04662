"""The gateway's audit log as the kit's audit table now is: who acted (the principal's kind and a
person's display name) and which hash key version and MAC chained each entry

Revision ID: gateway_0007
Revises: gateway_0006
Create Date: 2026-12-05 12:30:00
"""

from hub.kit_migrations import (
    add_audit_actor_columns,
    add_audit_key_versions,
    drop_audit_actor_columns,
    drop_audit_key_versions,
)

revision = "gateway_0007"
down_revision = "gateway_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_audit_actor_columns()
    add_audit_key_versions()


def downgrade() -> None:
    drop_audit_key_versions()
    drop_audit_actor_columns()
