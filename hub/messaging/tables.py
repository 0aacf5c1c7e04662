"""The kit's tables, added to each service's own metadata: outbox, inbox, leases and the dead-letter store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

from hub.utc import UtcDateTime

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class KitTables:
    outbox: Table
    inbox: Table
    leases: Table
    dead_letter_store: Table  # the service's dead letters, drained from its `.dlq` queues (dead_letters.py)


def define_kit_tables(metadata: MetaData) -> KitTables:
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("type", String(100), nullable=False),
        Column("subject", String(64)),
        Column("body", Text, nullable=False),
        Column("traceparent", String(64)),
        Column("tracestate", String(512)),
        Column("created_at", UtcDateTime(), nullable=False),
        Column("claim_token", String(36)),
        Column("claimed_until", UtcDateTime()),
        Column("published_at", UtcDateTime()),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(100), nullable=False),
        Column("event_id", String(64), nullable=False),
        Column("event_type", String(100), nullable=False),
        Column("processed_at", UtcDateTime(), nullable=False),
        PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
    )
    leases = Table(
        "leases",
        metadata,
        Column("name", String(100), primary_key=True),
        Column("holder", String(64), nullable=False),
        Column("until", UtcDateTime(), nullable=False),
    )
    from hub.messaging.dead_letter_rows import define_dead_letter_store

    return KitTables(
        outbox=outbox, inbox=inbox, leases=leases, dead_letter_store=define_dead_letter_store(metadata)
    )
