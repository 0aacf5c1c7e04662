"""The columns a registration stores for a case's content and its reporter, shared by the live path
(registration.py) and the bulk import of history (bulk.py): one mapping, so a new field or a change in
how personal data is kept (encrypted, searchable by keyed hash, masked for display) reaches both."""

from __future__ import annotations

from typing import Any

from hub.crypto import FieldCipher, keyed_hash, row_aad
from services.intake.domain.model import CaseIn
from services.intake.domain.pii import mask_phone


def phone_hash_of(hash_key: str, case_in: CaseIn) -> str | None:
    phone = case_in.reporter.phone
    return keyed_hash(hash_key, phone) if phone else None


# The reporter's encrypted columns, each bound to its row and column (associated data).
REPORTER_FIELDS = (
    ("reporter_name_enc", "name"),
    ("reporter_phone_enc", "phone"),
    ("reporter_id_enc", "id_number"),
)
PLAINTEXT = "_reporter_plaintext"  # a prepared row's fields to encrypt once its case number is known


def reporter_aad(case_no: str, column: str) -> str:
    return row_aad("intake", "cases", case_no, column)


def seal_reporter(row: dict[str, Any], cipher: FieldCipher) -> None:
    """Encrypt a prepared row's reporter fields for its case number (bound to that row)."""
    plain: dict[str, str | None] = row.pop(PLAINTEXT)
    for column, _field in REPORTER_FIELDS:
        row[column] = cipher.encrypt(plain[column], aad=reporter_aad(row["case_no"], column))


def case_columns(
    case_in: CaseIn,
    *,
    category: str,
    words: list[str],
    hash_key: str,
    phone_hash: str | None,
    address_key: str,
) -> dict[str, Any]:
    """The row's columns; personal data still plaintext under PLAINTEXT until `seal_reporter`."""
    reporter = case_in.reporter
    return {
        "channel": case_in.channel.value,
        "source_ref": case_in.source_ref,
        "request_type": case_in.request_type.value,
        "category": category,
        "category_source": "caller" if case_in.category else "classifier",
        "category_words": words,
        "title": case_in.title,
        "description": case_in.description,
        "reporter_anonymous": reporter.anonymous,
        PLAINTEXT: {column: getattr(reporter, field) for column, field in REPORTER_FIELDS},
        "reporter_phone_hash": phone_hash,
        "reporter_phone_masked": mask_phone(reporter.phone) if reporter.phone else None,
        "reporter_id_type": reporter.id_type.value if reporter.id_type else None,
        "reporter_id_hash": keyed_hash(hash_key, reporter.id_number) if reporter.id_number else None,
        "sms_capable": bool(reporter.phone and not reporter.anonymous and reporter.phone_is_mobile),
        "address": case_in.location.address,
        "address_key": address_key,
        "street_code": case_in.location.street_code,
        "grid_code": case_in.location.grid_code,
        "people_involved": case_in.people_involved,
        "amount_yuan": case_in.amount_yuan,
        "flags": [f.value for f in case_in.flags],
        "occurred_at": case_in.occurred_at,
        "due_by": case_in.due_by.at if case_in.due_by else None,
        "due_by_source": case_in.due_by.source if case_in.due_by else None,
        "urgent": case_in.urgent,
    }
