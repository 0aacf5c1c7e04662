"""The database side of "same reporter or same address" (services/intake/domain/duplicates.py).

Registration and category correction fetch the earlier cases that may be the same matter with this
one condition; the domain functions then decide (same category, window, similar text). They read the
newest CANDIDATES_MAX at most: a hot address (a site where hundreds report unpaid wages, a proof suite's
one address) must not make each registration read, and compare the text of, every case filed there in
30 days — registration grew linear in them, and a steady load quadratic (the 30-minute soak fell to
under 2 cases/s). Beyond the cap a repeat count saturates, far above any threshold in grading.yaml.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_

from services.intake.domain.duplicates import unit_of
from services.intake.tables import cases

CANDIDATES_MAX = 200


def same_source(address_key: str, phone_hash: str | None) -> ColumnElement[bool]:
    """Cases with the same reporter, the same address, or (duplicates.same_address) the building
    unit this room is in, or a room in this building unit."""
    conditions: list[ColumnElement[bool]] = [cases.c.address_key == address_key]
    unit = unit_of(address_key)
    if unit:
        conditions.append(cases.c.address_key == unit)
    if address_key.endswith("单元"):
        conditions.append(cases.c.address_key.startswith(address_key, autoescape=True))
    if phone_hash:
        conditions.append(cases.c.reporter_phone_hash == phone_hash)
    return or_(*conditions)
