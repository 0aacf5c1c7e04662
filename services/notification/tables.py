"""Notification's own tables: reporter contacts (ciphertext), deliveries (the send ledger), opt-outs,
inbound SMS replies, kit tables. Phone numbers are stored only as ciphertext or keyed hashes."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Index, Integer, MetaData, String, Table, Text, text

from hub.contracts.aad import row_aad
from hub.messaging.tables import define_kit_tables
from hub.utc import UtcDateTime

metadata = MetaData()
kit = define_kit_tables(metadata)

contacts = Table(
    "contacts",
    metadata,
    Column("case_no", String(32), primary_key=True),
    Column("phone_enc", Text),  # decrypted only at send time, in this service
    Column("phone_hash", String(64)),
    Column("sms_capable", Boolean, nullable=False),
    Column("colour", String(16), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# One row per (event, recipient, template): the unique dedup_key is the at-most-once guarantee.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(36), primary_key=True),  # also the provider's out-id
    Column("dedup_key", String(200), nullable=False, unique=True),
    Column("case_no", String(32)),
    Column("template", String(64), nullable=False),
    Column("params", JSON, nullable=False),
    # citizen | department (SMS to a contact's mobile) | department_webhook (the unit's own system)
    Column("recipient_kind", String(24), nullable=False),
    Column("recipient_enc", Text, nullable=False),
    Column("recipient_hash", String(64), nullable=False),
    Column("colour", String(16)),
    # pending | sending | sent | delivered | failed | opted_out
    Column("status", String(16), nullable=False),
    Column("not_before", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_until", UtcDateTime()),
    Column("provider", String(32)),
    Column("provider_ref", String(100)),
    Column("segments", Integer),
    Column("last_error", String(300)),
    Column("traceparent", String(64)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime()),
    Column("department", String(100)),  # unit code, for department messages
    # The provider's delivery receipt (状态报告): delivered | undelivered, its code and time.
    Column("receipt_status", String(16)),
    Column("receipt_code", String(64)),
    Column("receipt_at", UtcDateTime()),
    # How a lease that expired mid-send was resolved: confirmed_by_lookup (found at the provider,
    # not sent again) | resent_after_lookup | resent_unconfirmed (the provider cannot be asked:
    # at-least-once) | resent_with_idempotency_key (hub webhooks) | unsettled (lookup pending) |
    # unconfirmed (the provider could not be asked, given up: failed). See docs/providers.md.
    Column("recovery", String(32)),
    Index(
        "ix_deliveries_due",
        "not_before",
        postgresql_where=text("status IN ('pending', 'sending')"),
        sqlite_where=text("status IN ('pending', 'sending')"),
    ),
    Index("ix_deliveries_recipient_sent", "recipient_hash", "sent_at"),
    Index("ix_deliveries_provider_ref", "provider_ref"),
    Index("ix_deliveries_status_created", "status", "created_at"),
)

# Citizens who asked for no more SMS (退订): keyed hash of the E.164 number only.
opt_outs = Table(
    "opt_outs",
    metadata,
    Column("phone_hash", String(64), primary_key=True),
    Column("source", String(16), nullable=False),  # api | sms
    Column("created_at", UtcDateTime(), nullable=False),
)

# Every inbound SMS (上行短信), answered or not: matched | unrecognised | no_open_callback | opt_out.
inbound_replies = Table(
    "inbound_replies",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("dedup_key", String(200), nullable=False, unique=True),  # provider's dest_code + sequence_id
    Column("phone_hash", String(64), nullable=False),
    Column("content_enc", Text, nullable=False),
    Column("outcome", String(24), nullable=False),
    Column("satisfaction", String(32)),
    Column("case_no", String(32)),
    Column("delivery_id", String(36)),
    Column("sent_at", UtcDateTime()),  # when the citizen sent it (provider's send_time)
    Column("received_at", UtcDateTime(), nullable=False),
    Index("ix_inbound_replies_delivery", "delivery_id"),
)

# SMS verification codes asked for by the citizen QR form (issue 18): the code only as a keyed hash, the
# phone only as its keyed hash. `window_key` (the phone's hash and the resend interval it was asked in)
# is unique, so two requests racing for one phone send one code.
verifications = Table(
    "verifications",
    metadata,
    Column("id", String(36), primary_key=True),  # also the provider's out-id
    Column("purpose", String(32), nullable=False),  # citizen_form
    Column("phone_hash", String(64), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("window_key", String(100), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("verified_at", UtcDateTime()),
    Column("bound_to", String(64)),  # what the verified code was spent on (a hash of the form token)
    Column("status", String(16), nullable=False),  # sending | sent (a failed send is deleted)
    Column("provider", String(32)),
    Column("provider_ref", String(100)),
    Column("last_error", String(300)),
    Index("ix_verifications_phone_created", "phone_hash", "created_at"),
)


# Associated data of each encrypted column (hub/crypto.py): the row it belongs to, so a ciphertext
# copied to another row or column does not decrypt. `hub pii rotate` derives the same from the table.
def contact_aad(case_no: str) -> str:
    return row_aad("notification", "contacts", case_no, "phone_enc")


def delivery_aad(delivery_id: str) -> str:
    return row_aad("notification", "deliveries", delivery_id, "recipient_enc")


def inbound_aad(reply_id: str) -> str:
    return row_aad("notification", "inbound_replies", reply_id, "content_enc")
