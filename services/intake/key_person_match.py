"""Is a case being registered by or about a key person (重点人员)? The system's own lookup at
registration (not a person's read of the registry, so unscoped and not audited as one: the case's
`case.registered` entry names the entry matched). The reporter is matched by the keyed hash of the
phone or ID number — not when the report is anonymous (the flag would say who reported) — and the
place by the normalised address. Of several entries, the one needing the most attention flags it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.domain.key_persons import KeyPersonScheme
from services.intake.tables import key_persons


@dataclass(frozen=True)
class KeyPersonMatch:
    key_person_id: str
    colour: str
    matched_by: list[str]  # phone | id_number | address


async def match_key_person(
    session: AsyncSession,
    scheme: KeyPersonScheme,
    *,
    phone_hash: str | None,
    id_hash: str | None,
    address_key: str | None,
) -> KeyPersonMatch | None:
    kp = key_persons.c
    conditions = [
        condition
        for value, condition in (
            (phone_hash, kp.phone_hash == phone_hash),
            (id_hash, kp.id_hash == id_hash),
            (address_key, kp.address_key == address_key),
        )
        if value
    ]
    if not conditions:
        return None
    rows = (
        await session.execute(
            select(kp.id, kp.colour, kp.phone_hash, kp.id_hash, kp.address_key)
            .where(or_(*conditions), kp.status == "active")
            .order_by(kp.created_at, kp.id)
            .limit(20)
        )
    ).all()
    if not rows:
        return None
    colour = scheme.most_attention([r.colour for r in rows]) or rows[0].colour
    row = next(r for r in rows if r.colour == colour)
    matched_by = [
        name
        for name, mine, theirs in (
            ("phone", phone_hash, row.phone_hash),
            ("id_number", id_hash, row.id_hash),
            ("address", address_key, row.address_key),
        )
        if mine and mine == theirs
    ]
    return KeyPersonMatch(row.id, row.colour, matched_by)
