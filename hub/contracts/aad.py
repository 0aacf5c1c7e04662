"""Associated data of encrypted fields (hub/crypto.py): the identity of the place a ciphertext belongs.

A contract like the events: the service that encrypts a value and the one that decrypts it (intake
encrypts the reporter's phone inside `case.registered.v1`, notification decrypts it) must name the
place alike, and `hub pii rotate` re-derives it from the table or the event alone. Pure strings: no
cryptography here.
"""

from __future__ import annotations


def row_aad(service: str, table: str, row_id: object, column: str) -> str:
    """One stored field: service.table | primary key | column (the `*_enc` column's name)."""
    return f"{service}.{table}|{row_id}|{column}"


def event_aad(event_type: str, subject: str | None, path: str) -> str:
    """An encrypted field inside an event's data: type | subject (the case number) | dotted path."""
    return f"event:{event_type}|{subject or ''}|{path}"
