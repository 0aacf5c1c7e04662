"""Dead letters, handled (issue 16): the events this service's consumers dead-lettered, drained from
their `.dlq` queues, with who replayed or resolved each and why

Revision ID: referral_0008
Revises: referral_0007
Create Date: 2026-12-05 15:40:00
"""

from hub.kit_migrations import create_dead_letter_store, drop_dead_letter_store

revision = "referral_0008"
down_revision = "referral_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_dead_letter_store()


def downgrade() -> None:
    drop_dead_letter_store()
