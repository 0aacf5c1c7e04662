"""Key persons and households (重点人员 / 七色户卡, issue 18): the registry, and the key person a case
was flagged with at registration

Revision ID: intake_0011_key_persons
Revises: intake_0010_attachments
Create Date: 2026-12-06 02:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0011_key_persons"
down_revision = "intake_0010_attachments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_persons",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("colour", sa.String(length=16), nullable=False),
        sa.Column("colour_reason", sa.Text(), nullable=True),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("name_enc", sa.Text(), nullable=True),
        sa.Column("name_masked", sa.String(length=64), nullable=True),
        sa.Column("phone_enc", sa.Text(), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("phone_masked", sa.String(length=32), nullable=True),
        sa.Column("id_type", sa.String(length=32), nullable=True),
        sa.Column("id_enc", sa.Text(), nullable=True),
        sa.Column("id_hash", sa.String(length=64), nullable=True),
        sa.Column("address_enc", sa.Text(), nullable=True),
        sa.Column("address_key", sa.String(length=300), nullable=True),
        sa.Column("address_masked", sa.String(length=300), nullable=True),
        sa.Column("note_enc", sa.Text(), nullable=True),
        sa.Column("centre_id", sa.String(length=12), nullable=False),
        sa.Column("grid_code", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_key_persons_phone_hash", "key_persons", ["phone_hash"], unique=False)
    op.create_index("ix_key_persons_id_hash", "key_persons", ["id_hash"], unique=False)
    op.create_index("ix_key_persons_address_key", "key_persons", ["address_key"], unique=False)
    op.create_index("ix_key_persons_centre", "key_persons", ["centre_id"], unique=False)
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("key_person_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("key_person_colour", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("key_person_matched_by", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("key_person_matched_by")
        batch.drop_column("key_person_colour")
        batch.drop_column("key_person_id")
    op.drop_index("ix_key_persons_centre", table_name="key_persons")
    op.drop_index("ix_key_persons_address_key", table_name="key_persons")
    op.drop_index("ix_key_persons_id_hash", table_name="key_persons")
    op.drop_index("ix_key_persons_phone_hash", table_name="key_persons")
    op.drop_table("key_persons")
