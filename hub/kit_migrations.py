"""The kit's tables as Alembic operations, written once for every service's revisions.

The messaging tables (inbox, leases, outbox: hub/messaging/tables.py) come with each service's first
revision; the audit log (hub/audit.py) with the revision that gave a service its audit. The DDL is
frozen as those revisions first created it: a later change to a kit table needs a new revision in
every service, never an edit here (existing databases would not see it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hub.audit import append_only_ddl, drop_append_only_ddl

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PENDING = {
    "postgresql_where": sa.text("published_at IS NULL"),
    "sqlite_where": sa.text("published_at IS NULL"),
}


def create_kit_tables() -> None:
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", _Id, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("traceparent", sa.String(length=64), nullable=True),
        sa.Column("tracestate", sa.String(length=512), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.String(length=36), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_pending", ["id"], unique=False, **_PENDING)


def drop_kit_tables() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending", **_PENDING)
    op.drop_table("outbox")
    op.drop_table("leases")
    op.drop_table("inbox")


def create_audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", _Id, autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("case_no", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_case_no", ["case_no"], unique=False)
    # Append-only: the application cannot rewrite history; the hash chain catches whoever drops these.
    for statement in append_only_ddl(op.get_bind().dialect.name):
        op.execute(statement)


def drop_audit_log() -> None:
    for statement in drop_append_only_ddl(op.get_bind().dialect.name):
        op.execute(statement)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_case_no")
    op.drop_table("audit_log")


def add_audit_actor_columns() -> None:
    """Who acted (hub/audit.py): the principal's kind and a person's display name. A plain nullable
    ADD COLUMN on either dialect: the table is not rebuilt and its append-only triggers stay."""
    op.add_column("audit_log", sa.Column("actor_kind", sa.String(length=8), nullable=True))
    op.add_column("audit_log", sa.Column("actor_name", sa.String(length=100), nullable=True))


def drop_audit_actor_columns() -> None:
    dialect = op.get_bind().dialect.name
    for statement in drop_append_only_ddl(dialect):  # SQLite rebuilds the table: triggers again after
        op.execute(statement)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("actor_name")
        batch_op.drop_column("actor_kind")
    for statement in append_only_ddl(dialect):
        op.execute(statement)


def add_audit_key_versions() -> None:
    """Versioned chain keys (hub/audit.py): which key version and MAC made each entry's hash.

    Existing entries were chained with the one hash key there was, HMAC-SHA256: version 1. Adding a
    column with a constant default writes no row (no UPDATE, so the append-only triggers stay put)."""
    op.add_column("audit_log", sa.Column("key_version", sa.Integer(), nullable=False, server_default="1"))
    op.add_column(
        "audit_log", sa.Column("mac", sa.String(length=16), nullable=False, server_default="hmac-sha256")
    )


def drop_audit_key_versions() -> None:
    dialect = op.get_bind().dialect.name
    for statement in drop_append_only_ddl(dialect):
        op.execute(statement)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("mac")
        batch_op.drop_column("key_version")
    for statement in append_only_ddl(dialect):
        op.execute(statement)


def create_dead_letter_store() -> None:
    """Each service's dead letters, drained from its consumers' `.dlq` queues (hub/messaging/dead_letters.py)."""
    op.create_table(
        "dead_letter_store",
        sa.Column("id", _Id, autoincrement=True, nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=True),
        sa.Column("case_no", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("deaths", sa.Integer(), server_default="1", nullable=False),
        sa.Column("death_marker", sa.String(length=64), nullable=False),
        sa.Column("first_dead_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_dead_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolve_reason", sa.String(length=500), nullable=True),
        sa.Column("replays", sa.Integer(), server_default="0", nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("queue", "event_id", name="uq_dead_letter_store_event"),
    )
    op.create_index(
        "ix_dead_letter_store_status", "dead_letter_store", ["status", "last_dead_at"], unique=False
    )


def drop_dead_letter_store() -> None:
    op.drop_index("ix_dead_letter_store_status", table_name="dead_letter_store")
    op.drop_table("dead_letter_store")
