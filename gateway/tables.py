"""The gateway's own tables: the case timeline projection, API clients, named accounts and their
sessions, the adapters' ledgers, the audit log of account events, and the kit's tables."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    false,
    text,
)

from hub.audit import define_audit_table
from hub.messaging.tables import BigId, define_kit_tables
from hub.utc import UtcDateTime

metadata = MetaData()
kit = define_kit_tables(metadata)

# Every handoff of every service, projected from the events (each service says what it did).
timeline = Table(
    "timeline",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("case_no", String(32), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("service", String(32), nullable=False),
    Column("event", String(100), nullable=False),
    Column("actor", JSON, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("trace_id", String(32)),
    Column("span_id", String(16)),
    Index("ix_timeline_case_at", "case_no", "at"),
)

# API clients (OAuth2 client credentials): the secret is kept only as a slow KDF hash (gateway/auth/clients.py).
clients = Table(
    "clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("secret_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),  # centre | department | adapter | ops
    Column("department", String(100)),  # the department code, for role department
    Column("system", String(32)),  # the external system, for role adapter
    Column("rate_limit_per_minute", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=false()),
)

# Named accounts (people: centre staff, departments, ops, supervisors; gateway/accounts/). The password
# is kept only as an argon2id hash; the username is stored lower-case (unique, case-insensitive).
users = Table(
    "users",
    metadata,
    Column("user_id", String(36), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(50), nullable=False),  # personal data: never logged
    Column("role", String(16), nullable=False),  # centre | department | ops | supervisor
    Column("centre", String(12), nullable=False),  # the centre's area code (6 or 12 digits)
    Column("department", String(100)),  # the department code, for role department
    Column("grid", String(64)),  # the grid code (网格), for role grid_worker (gateway_0010_grid)
    Column("password_hash", String(255), nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("failed_attempts", Integer, nullable=False, server_default="0"),
    Column("locked_until", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# One row per sign-in (a refresh-token family). Every request with a user's access token reads its row
# by primary key, joined to the user's (gateway/accounts/sessions.py): a revoked session or a disabled
# user is refused at once on every replica. `generation` is the number of the one live refresh token.
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("session_id", String(32), primary_key=True),
    Column("user_id", String(36), nullable=False),
    Column("generation", Integer, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("refreshed_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),  # when the current refresh token expires
    Column("revoked_at", UtcDateTime()),
    Column("revoked_reason", String(32)),  # logout | disabled | password_reset | refresh_reuse
    Index("ix_user_sessions_user", "user_id"),
)

# The hash-chained audit log (hub/audit.py) of account events: sign-ins, failures, lockouts, sign-outs,
# refresh-token reuse, and `hub users` changes. Ids and codes only; never a name or a password.
audit_log = define_audit_table(metadata)

# Cases filed through Open311 (gateway/open311): what an Open311 client may list and follow.
open311_requests = Table(
    "open311_requests",
    metadata,
    Column("service_request_id", String(32), primary_key=True),  # the hub's case number
    Column("service_code", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("jurisdiction_id", String(64)),
    Column("requested_at", UtcDateTime(), nullable=False),
    # The citizen QR form's cases (gateway/citizen, issue 18) are Open311 requests too (client_id
    # citizen_form, jurisdiction_id the centre's area code), with the status page's token: kept only as
    # its SHA-256; the submission it came from (a hash of the form's token, so a retried submit is the
    # same case); whether the reporter is anonymous; and the callback rating given on the status page.
    Column("status_token_hash", String(64)),
    Column("form_key", String(64)),
    Column("anonymous", Boolean),
    Column("rated_at", UtcDateTime()),
    Column("satisfaction", String(32)),
    Index("ix_open311_requests_requested_at", "requested_at"),
    Index("uq_open311_requests_status_token", "status_token_hash", unique=True),
    Index("uq_open311_requests_form_key", "form_key", unique=True),
)

# --- Adapters to external systems (gateway/adapters/, docs/adapters/) ---------------------------

# Which external system knows a case, under which of its numbers, and how far it has been told.
# The link can exist before the case does (a back-fill writes it before registering, with what the
# system already shows, so history is never pushed over); the case number is filled in later.
adapter_links = Table(
    "adapter_links",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("system", String(32), nullable=False),
    Column("external_ref", String(100)),  # their number; none yet for a case we file with them
    Column("case_no", String(32)),
    Column("origin", String(16), nullable=False),  # webhook | event | backfill | reconcile | referral
    Column("delivered_round", Integer, nullable=False, server_default="0"),
    Column("delivered_rank", Integer, nullable=False, server_default="-1"),
    Column("delivered_update", String(32)),
    Column("external_state", String(32)),  # their state code after our last delivery (or history)
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # The case this one was merged into: the link keeps hearing that case's updates (its own duty).
    Column("follows_case_no", String(32)),
    UniqueConstraint("system", "external_ref", name="uq_adapter_links_ref"),
    UniqueConstraint("system", "case_no", name="uq_adapter_links_case"),
    Index("ix_adapter_links_case", "case_no"),
    Index("ix_adapter_links_follows", "follows_case_no"),
)

# Every case the adapter sync has seen registered (and its round: a reopen starts a new one), so a
# status event that overtook its case's registration is retried instead of being taken for a case
# no external system knows.
adapter_cases = Table(
    "adapter_cases",
    metadata,
    Column("case_no", String(32), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("round", Integer, nullable=False, server_default="0"),
    Column("seen_at", UtcDateTime(), nullable=False),
)

# The outbound delivery ledger: one row per (case, system, update of a round), delivered in order
# per case and system, retried with back-off, never twice (update_id is their request id).
adapter_deliveries = Table(
    "adapter_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("update_id", String(36), nullable=False, unique=True),
    Column("case_no", String(32), nullable=False),
    Column("system", String(32), nullable=False),
    Column("update_name", String(32), nullable=False),
    Column("update_key", String(80), nullable=False),
    Column("round", Integer, nullable=False),
    Column("rank", Integer, nullable=False),
    Column("data", JSON, nullable=False),
    Column("event_id", String(64)),
    # pending | sending | sent | skipped | failed
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("claimed_until", UtcDateTime()),
    Column("last_error", String(300)),
    Column("external_state", String(32)),
    Column("traceparent", String(64)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    UniqueConstraint("case_no", "system", "update_key", name="uq_adapter_deliveries_update"),
    Index("ix_adapter_deliveries_case", "case_no", "system", "id"),
    Index(
        "ix_adapter_deliveries_open",
        "next_attempt_at",
        postgresql_where=text("status IN ('pending', 'sending')"),
        sqlite_where=text("status IN ('pending', 'sending')"),
    ),
    Index("ix_adapter_deliveries_status", "status", "id"),
)

# Signatures already accepted on the inbound webhooks, kept until they could no longer pass the
# timestamp check: a replay inside the window is refused.
adapter_nonces = Table(
    "adapter_nonces",
    metadata,
    Column("system", String(32), nullable=False),
    Column("nonce", String(128), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("system", "nonce", name="pk_adapter_nonces"),
    Index("ix_adapter_nonces_expiry", "expires_at"),
)

# Inbound urges and ratings already handled (by the system's own id for them): a repeated push is
# answered as before and changes nothing.
adapter_inbound = Table(
    "adapter_inbound",
    metadata,
    Column("system", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("external_id", String(100), nullable=False),
    Column("case_no", String(32), nullable=False),
    Column("received_at", UtcDateTime(), nullable=False),
    PrimaryKeyConstraint("system", "kind", "external_id", name="pk_adapter_inbound"),
)

# Where a back-fill stopped (resumable): one row per source.
adapter_cursors = Table(
    "adapter_cursors",
    metadata,
    Column("name", String(300), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("done", Integer, nullable=False, server_default="0"),
    Column("updated_at", UtcDateTime(), nullable=False),
)


# A record of every event dead-lettered by any service's consumer (a copy the gateway receives from
# the dead-letter exchange; the message itself stays in its queue's .dlq for replay). Ops see each
# one as a stall with its case number (gateway/ops/dead_letters.py). Reasons are codes and field
# paths, never payload values.
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("queue", String(100), nullable=False),  # the consumer queue it was dead-lettered from
    Column("event_id", String(64)),  # None when the body was not an event at all
    Column("event_type", String(100)),
    Column("case_no", String(32)),
    Column("reason", String(500), nullable=False),
    Column("dead_at", UtcDateTime()),
    Column("trace_id", String(32)),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime()),  # replayed or dismissed by ops
    UniqueConstraint("queue", "event_id", name="uq_dead_letters_event"),
    Index("ix_dead_letters_case", "case_no"),
    Index(
        "ix_dead_letters_open",
        "recorded_at",
        postgresql_where=text("resolved_at IS NULL"),
        sqlite_where=text("resolved_at IS NULL"),
    ),
)
