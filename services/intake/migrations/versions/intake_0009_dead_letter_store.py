"""Dead letters, handled (issue 16): the events this service's consumers dead-lettered, drained from
their `.dlq` queues, with who replayed or resolved each and why

Revision ID: intake_0009
Revises: intake_0008
Create Date: 2026-12-05 15:40:00
"""

from hub.kit_migrations import create_dead_letter_store, drop_dead_letter_store

revision = "intake_0009"
down_revision = "intake_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_dead_letter_store()


def downgrade() -> None:
    drop_dead_letter_store()
