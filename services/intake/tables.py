"""Intake's own tables (its database or schema): cases, the daily number counter, the audit log, the kit's tables."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from hub.audit import define_audit_table
from hub.messaging.tables import define_kit_tables
from hub.utc import UtcDateTime

metadata = MetaData()
kit = define_kit_tables(metadata)
audit_log = define_audit_table(metadata)

cases = Table(
    "cases",
    metadata,
    Column("case_no", String(32), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("source_ref", String(64)),
    Column("idempotency_key", String(128)),  # a digest of the caller and its key (intake/idempotency.py)
    Column("idempotency_body", String(64)),  # a digest of the body the key was first used with
    Column("request_type", String(32), nullable=False),
    Column("category", String(64), nullable=False),
    Column("category_source", String(16), nullable=False),  # caller | classifier | dispatcher
    Column("category_words", JSON, nullable=False, default=list),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    # Personal data: ciphertext plus keyed hashes for search (never plaintext at rest).
    Column("reporter_anonymous", Boolean, nullable=False, default=False),
    Column("reporter_name_enc", Text),
    Column("reporter_phone_enc", Text),
    Column("reporter_phone_hash", String(64)),
    Column("reporter_phone_masked", String(32)),
    Column("reporter_id_type", String(32)),
    Column("reporter_id_enc", Text),
    Column("reporter_id_hash", String(64)),
    Column("sms_capable", Boolean, nullable=False, default=False),
    Column("address", String(300), nullable=False),
    Column("address_key", String(300), nullable=False),
    Column("street_code", String(12)),
    Column("grid_code", String(64)),
    Column("people_involved", Integer, nullable=False),
    Column("amount_yuan", Numeric(16, 2)),
    Column("flags", JSON, nullable=False, default=list),  # given by the caller; text flags are re-read
    Column("occurred_at", UtcDateTime()),
    # The reporting system marked it urgent (12345 `urgency`): grading raises the colour a step.
    Column("urgent", Boolean, nullable=False, default=False, server_default=false()),
    Column("colour", String(16), nullable=False),
    Column("colour_reasons", JSON, nullable=False, default=list),
    Column("colour_overridden", Boolean, nullable=False, default=False),
    # Who overrode the colour and why (supervisor, RULES.md "Four-colour risk grading").
    Column("override_reason", Text),
    Column("override_actor_role", String(16)),
    Column("override_actor_id", String(64)),
    Column("overridden_at", UtcDateTime()),
    Column("response_level", String(32), nullable=False),
    Column("repeat_count_30d", Integer, nullable=False, default=0),
    Column("duplicate_of", String(32)),
    # Why a dispatcher corrected the category (category_source = "dispatcher").
    Column("category_reason", Text),
    # registered (open) | merged | closed | withdrawn | returned_to_channel; after registration referral owns the life
    # cycle and intake keeps only what it needs to refuse merges (projected from referral's events).
    Column("status", String(32), nullable=False),
    Column("merged_into", String(32)),
    Column("merged_at", UtcDateTime()),
    # Reply/callback duties of channels whose cases were merged into this one:
    # [{case_no, channel, source_ref}] (None = none yet). The case's own channel is on the row.
    Column("duties", JSON),
    # The channel's own limit on the case (12345's 办理时限) as registered, and whose it is
    # ("hotline12345.limitTime"); referral holds the one in force (it moves on an approved 延期).
    Column("due_by", UtcDateTime()),
    Column("due_by_source", String(64)),
    Column("trace_id", String(32)),
    Column("registered_at", UtcDateTime(), nullable=False),
    # The centre holding the case (an area code), copied from referral's case.centre_assigned.v1 and
    # case.centre_moved.v1 (上报/下派), and the time of the event that set it: who may see the case
    # (services/intake/scoping.py). None until referral has placed it: its location decides meanwhile.
    Column("centre_id", String(12)),
    Column("centre_at", UtcDateTime()),
    # A key person (重点人员, key_persons below) the reporter's phone or ID hash or the address matched at
    # registration: the entry's id, its colour then, and by what (["phone", "id_number", "address"]).
    # Shown to the dispatcher without the person's data; graded with (grading.yaml key_person rules).
    Column("key_person_id", String(32)),
    Column("key_person_colour", String(16)),
    Column("key_person_matched_by", JSON),
    UniqueConstraint("channel", "source_ref", name="uq_cases_channel_source_ref"),
    UniqueConstraint("idempotency_key", name="uq_cases_idempotency_key"),
    Index("ix_cases_phone_hash_registered", "reporter_phone_hash", "registered_at"),
    Index("ix_cases_address_registered", "address_key", "registered_at"),
    Index("ix_cases_registered_at", "registered_at"),
    Index("ix_cases_centre", "centre_id"),
)

# Text added to a case after registration: a staff note, a 12345 urge's content. Read with the title and
# description when the case is graded again (redacted of phone and ID numbers, never edited).
case_notes = Table(
    "case_notes",
    metadata,
    Column("case_no", String(32), primary_key=True),
    Column("note_no", Integer, primary_key=True),  # 1, 2, … per case
    Column("text", Text, nullable=False),
    Column("actor_role", String(16), nullable=False),
    Column("actor_id", String(64)),
    Column("idempotency_key", String(128)),  # a digest of the caller and its key (intake/idempotency.py)
    Column("idempotency_body", String(64)),  # a digest of the body the key was first used with
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("idempotency_key", name="uq_case_notes_idempotency_key"),
)

# Grid workers' reports (issue 18): the report's own facts beside its case (which grid, where the worker
# stood, the app's client id), and the photos sent with it. Attachment contents and names are stored
# here only: never in logs, spans or events.
grid_reports = Table(
    "grid_reports",
    metadata,
    Column("case_no", String(32), primary_key=True),
    Column("grid", String(64), nullable=False),
    Column("actor_id", String(64)),  # the grid worker's user id
    Column("client_id", String(64), nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("accuracy_m", Float),
    Column("observed_at", UtcDateTime()),
    Column("reported_at", UtcDateTime(), nullable=False),
    Index("ix_grid_reports_grid", "grid", "reported_at"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_no", String(32), nullable=False),
    Column("file_name", String(200), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("scan", String(16), nullable=False),  # the scanner's verdict: clean (nothing else is stored)
    Column("content", LargeBinary, nullable=False),
    Column("actor_role", String(16), nullable=False),
    Column("actor_id", String(64)),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_attachments_case", "case_no"),
)

case_counters = Table(
    "case_counters",
    metadata,
    Column("day", Date, primary_key=True),
    Column("last", Integer, nullable=False),
)

# The key persons and households registry (重点人员 / 七色户卡, issue 18): who is followed up by colour
# (rules/key_persons.yaml). Personal data as on cases: ciphertext bound to the row (`*_enc`, AAD
# intake.key_persons|<id>|<column>), keyed hashes to match cases by (phone, ID number) and the
# normalised address; masked forms for lists. The holding centre (an area code) scopes who sees it.
key_persons = Table(
    "key_persons",
    metadata,
    Column("id", String(32), primary_key=True),  # KP-<16 hex>
    Column("colour", String(16), nullable=False),  # a code of the scheme
    Column("colour_reason", Text),  # why the colour was last set (phone and ID numbers redacted)
    Column("groups", JSON, nullable=False, default=list),  # codes of the scheme's groups
    Column("name_enc", Text),
    Column("name_masked", String(64)),  # mask_name keeps the length (names up to 50)
    Column("phone_enc", Text),
    Column("phone_hash", String(64)),
    Column("phone_masked", String(32)),
    Column("id_type", String(32)),
    Column("id_enc", Text),
    Column("id_hash", String(64)),
    Column("address_enc", Text),
    Column("address_key", String(300)),
    Column("address_masked", String(300)),
    Column("note_enc", Text),  # staff's free text about the household
    Column("centre_id", String(12), nullable=False),  # the centre following it up
    Column("grid_code", String(64)),  # the grid whose worker visits
    Column("status", String(16), nullable=False),  # active | closed
    Column("version", Integer, nullable=False),  # grows with every change (key_person.follow_up.v1)
    Column("created_by", String(64)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_key_persons_phone_hash", "phone_hash"),
    Index("ix_key_persons_id_hash", "id_hash"),
    Index("ix_key_persons_address_key", "address_key"),
    Index("ix_key_persons_centre", "centre_id"),
)
