"""versioned audit chain keys: each audit entry records the hash key version and MAC that chained it

Revision ID: intake_0007
Revises: intake_0006
Create Date: 2026-12-05 11:00:00
"""

from hub.kit_migrations import add_audit_key_versions, drop_audit_key_versions

revision = "intake_0007"
down_revision = "intake_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_audit_key_versions()


def downgrade() -> None:
    drop_audit_key_versions()
