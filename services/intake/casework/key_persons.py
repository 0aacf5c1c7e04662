"""The key persons and households registry (重点人员 / 七色户卡, issue 18; docs/decisions/0026).

Intake holds it because it holds personal data and grading: entries are stored as the reporters of
cases are (ciphertext bound to the row, keyed hashes of phone and ID number, the normalised address),
so a case by or about a person is matched at registration (key_person_match.py). Each entry belongs
to a centre (an area code) and is scoped like a case (hub/scope.py; outside the scope: 404). Every
read is audited with the person and why (`purpose`, a code for masked reads, free text for a reveal);
answers are masked — names, phones, ID numbers and addresses are decrypted only by the reveal.

Each change says `key_person.follow_up.v1` (outbox, same transaction): referral keeps the visits.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import scope
from hub.contracts.http.key_persons import READ_PURPOSES_ZH, KeyPersonColourIn, KeyPersonListQuery
from hub.contracts.intake import KeyPersonFollowUpV1
from hub.crypto import DecryptionError, keyed_hash, row_aad
from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.intake.actors import Actor, require
from services.intake.audit_trail import record
from services.intake.domain.duplicates import normalise_address
from services.intake.domain.key_persons import KeyPersonScheme
from services.intake.domain.pii import mask_name, mask_phone, redact_free_text
from services.intake.key_person_input import KeyPersonIn
from services.intake.scoping import key_persons_visible
from services.intake.settings import IntakeSettings
from services.intake.tables import key_persons

ENCRYPTED = ("name_enc", "phone_enc", "id_enc", "address_enc", "note_enc")


def key_person_aad(key_person_id: str, column: str) -> str:
    return row_aad("intake", "key_persons", key_person_id, column)


def mask_address(address: str) -> str:
    """The area part only: "昆都仑区某小区3栋2单元501" -> "昆都仑区某小****"."""
    value = address.strip()
    return value[: min(len(value) // 2, 8)] + "****"


def not_found(key_person_id: str) -> Problem:
    return Problem(
        404, "未找到该重点人员", f"没有编号为 {key_person_id} 的重点人员（户）", type_="key-person-not-found"
    )


def _invalid(field: str, title: str, detail: str) -> Problem:
    return Problem(422, title, detail, type_="validation-error", errors=[{"field": field, "message": detail}])


def _check_colour(scheme: KeyPersonScheme, colour: str) -> None:
    if scheme.colour(colour) is None:
        raise _invalid(
            "colour", "未知颜色", f"{scheme.name_zh}没有颜色 {colour}（可选：{', '.join(scheme.codes())}）"
        )


async def register_key_person(
    rt: ServiceRuntime[IntakeSettings], scheme: KeyPersonScheme, body: KeyPersonIn, *, actor: Actor
) -> Any:
    """A new entry (audited; its first visit scheduled by referral). 422 before anything is written."""
    require(actor, "key_person.register")
    _check_colour(scheme, body.colour)
    unknown = [g for g in body.groups if g not in scheme.groups]
    if unknown:
        raise _invalid(
            "groups",
            "未知人员类别",
            f"未知的人员类别：{', '.join(unknown)}（可选：{', '.join(scheme.groups)}）",
        )
    try:
        scope.level(body.centre_id)
    except scope.UnknownCentre:
        raise _invalid("centre_id", "未知中心", f"{body.centre_id} 不是区县、街道或社区编码") from None
    if not scope.contains(actor.centre, body.centre_id):  # another centre's area: as if unknown
        raise _invalid("centre_id", "未知中心", f"没有编码为 {body.centre_id} 的中心")
    key = rt.settings.hash_key
    phone_hash = keyed_hash(key, body.phone) if body.phone else None
    id_hash = keyed_hash(key, body.id_number) if body.id_number else None
    now = datetime.now(UTC)
    kp_id = f"KP-{secrets.token_hex(8)}"
    plain = {
        "name_enc": body.name,
        "phone_enc": body.phone,
        "id_enc": body.id_number,
        "address_enc": body.address,
        "note_enc": body.note,
    }
    async with rt.db.transaction() as session:
        same = [key_persons.c.phone_hash == phone_hash] if phone_hash else []
        same += [key_persons.c.id_hash == id_hash] if id_hash else []
        for condition in same:
            existing = (
                await session.execute(
                    select(key_persons.c.id).where(condition, key_persons.c.status == "active")
                )
            ).first()
            if existing is not None:
                raise Problem(
                    409,
                    "该人员已登记",
                    "同一电话或证件号码已在重点人员（户）台账中登记，请调整原登记的颜色而不是重复登记",
                    type_="key-person-exists",
                )
        await session.execute(
            key_persons.insert().values(
                id=kp_id,
                colour=body.colour,
                colour_reason=redact_free_text(body.reason) if body.reason else None,
                groups=list(dict.fromkeys(body.groups)),
                **{
                    column: rt.cipher.encrypt(value, aad=key_person_aad(kp_id, column))
                    for column, value in plain.items()
                },
                name_masked=mask_name(body.name),
                phone_hash=phone_hash,
                phone_masked=mask_phone(body.phone) if body.phone else None,
                id_type=body.id_type.value if body.id_type else None,
                id_hash=id_hash,
                address_key=normalise_address(body.address),
                address_masked=mask_address(body.address),
                centre_id=body.centre_id,
                grid_code=body.grid_code,
                status="active",
                version=1,
                created_by=actor.id,
                created_at=now,
                updated_at=now,
            )
        )
        row = await _row(session, kp_id)
        await _say(rt, session, scheme, row)
        detail = {
            "key_person_id": kp_id,
            "colour": body.colour,
            "centre_id": body.centre_id,
            "grid_code": body.grid_code,
        }
        await record(rt, session, actor, "key_person.registered", None, detail)
    return row


async def list_key_persons(
    rt: ServiceRuntime[IntakeSettings], query: KeyPersonListQuery, *, actor: Actor
) -> tuple[int, list[Any]]:
    """The entries in the person's scope, most attention first within a centre (audited: who, why, which)."""
    require(actor, "key_person.read")
    where = [key_persons_visible(actor), key_persons.c.status == "active"]
    if query.centre is not None:
        if not scope.contains(actor.centre, query.centre):
            raise _invalid("centre", "未知中心", f"没有编码为 {query.centre} 的中心")
        where.append(key_persons.c.centre_id.startswith(query.centre, autoescape=True))
    if query.colour is not None:
        where.append(key_persons.c.colour == query.colour)
    if query.grid_code is not None:
        where.append(key_persons.c.grid_code == query.grid_code)
    async with rt.db.transaction() as session:
        total = int(
            (await session.execute(select(func.count()).select_from(key_persons).where(*where))).scalar_one()
        )
        rows = list(
            (
                await session.execute(
                    select(key_persons)
                    .where(*where)
                    .order_by(key_persons.c.centre_id, key_persons.c.created_at, key_persons.c.id)
                    .limit(query.page_size)
                    .offset((query.page - 1) * query.page_size)
                )
            ).all()
        )
        await record(
            rt,
            session,
            actor,
            "key_person.listed",
            None,
            {
                "purpose": query.purpose,
                "purpose_zh": READ_PURPOSES_ZH[query.purpose],
                "filters": {"centre": query.centre, "colour": query.colour, "grid_code": query.grid_code},
                "key_person_ids": [r.id for r in rows],
            },
        )
    return total, rows


async def read_key_person(
    rt: ServiceRuntime[IntakeSettings], key_person_id: str, purpose: str, *, actor: Actor
) -> Any:
    """One entry, masked (audited: who and why)."""
    require(actor, "key_person.read")
    async with rt.db.transaction() as session:
        row = await visible_key_person(session, key_person_id, actor)
        detail = {"key_person_id": key_person_id, "purpose": purpose, "purpose_zh": READ_PURPOSES_ZH[purpose]}
        await record(rt, session, actor, "key_person.read", None, detail)
    return row


async def change_colour(
    rt: ServiceRuntime[IntakeSettings],
    scheme: KeyPersonScheme,
    key_person_id: str,
    body: KeyPersonColourIn,
    *,
    actor: Actor,
) -> Any:
    """A new colour with its reason (audited); referral moves the next visit to the new cadence."""
    require(actor, "key_person.colour")
    _check_colour(scheme, body.colour)
    reason = redact_free_text(" ".join(body.reason.split()))
    async with rt.db.transaction() as session:
        row = await visible_key_person(session, key_person_id, actor, lock=True)
        if row.colour == body.colour:
            return row  # nothing changes (a repeated request): no event, no entry
        now = datetime.now(UTC)
        await session.execute(
            update(key_persons)
            .where(key_persons.c.id == key_person_id)
            .values(colour=body.colour, colour_reason=reason, version=row.version + 1, updated_at=now)
        )
        changed = await _row(session, key_person_id)
        await _say(rt, session, scheme, changed)
        detail = {"key_person_id": key_person_id, "from": row.colour, "to": body.colour, "reason": reason}
        await record(rt, session, actor, "key_person.colour_changed", None, detail)
    return changed


@dataclass(frozen=True)
class KeyPersonData:
    name: str | None
    phone: str | None
    id_type: str | None
    id_number: str | None
    address: str | None
    note: str | None


async def reveal_key_person(
    rt: ServiceRuntime[IntakeSettings], key_person_id: str, purpose: str, *, actor: Actor
) -> KeyPersonData:
    """The entry's personal data, decrypted for a stated purpose (audited with the person and purpose)."""
    require(actor, "key_person.reveal")
    purpose = redact_free_text(" ".join(purpose.split()))
    shortest = rt.settings.intake_reveal_purpose_min_length
    if len(purpose) < shortest:
        raise _invalid(
            "purpose", "请说明查看个人信息的用途", f"查看个人信息须说明用途（至少 {shortest} 个字）"
        )
    refused: list[str] = []
    async with rt.db.transaction() as session:
        row = await visible_key_person(session, key_person_id, actor)
        opened: dict[str, str | None] = {}
        for column in ENCRYPTED:
            try:
                opened[column] = rt.cipher.decrypt(
                    row._mapping[column], aad=key_person_aad(key_person_id, column)
                )
            except DecryptionError:
                refused.append(column.removesuffix("_enc"))
        action = "key_person.personal_data_undecryptable" if refused else "key_person.personal_data_read"
        detail = {
            "key_person_id": key_person_id,
            "purpose": purpose,
            "fields": refused or [c.removesuffix("_enc") for c, v in opened.items() if v is not None],
        }
        await record(rt, session, actor, action, None, detail)
    if refused:
        raise Problem(
            409,
            "个人信息无法解密",
            f"该登记的个人信息无法用本登记的身份解密：{', '.join(refused)}",
            type_="personal-data-undecryptable",
        )
    return KeyPersonData(
        name=opened["name_enc"],
        phone=opened["phone_enc"],
        id_type=row.id_type,
        id_number=opened["id_enc"],
        address=opened["address_enc"],
        note=opened["note_enc"],
    )


async def visible_key_person(
    session: AsyncSession, key_person_id: str, actor: Actor, *, lock: bool = False
) -> Any:
    """The entry if the actor may see it, else 404 (outside the scope as if it did not exist)."""
    query = select(key_persons).where(key_persons.c.id == key_person_id, key_persons_visible(actor))
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise not_found(key_person_id)
    return row


def key_person_out(row: Any, scheme: KeyPersonScheme) -> dict[str, Any]:
    """An entry as answers show it: masked, never decrypted."""
    colour = scheme.colour(row.colour)
    return {
        "id": row.id,
        "colour": row.colour,
        "colour_name_zh": colour.name_zh if colour else row.colour,
        "colour_meaning_zh": colour.meaning_zh if colour else None,
        "visit_every_working_days": colour.visit_every_working_days if colour else None,
        "colour_reason": row.colour_reason,
        "groups": [{"code": g, "name_zh": scheme.groups.get(g, g)} for g in row.groups or []],
        "name": row.name_masked,
        "phone": row.phone_masked,
        "id_type": row.id_type,
        "address": row.address_masked,
        "centre_id": row.centre_id,
        "grid_code": row.grid_code,
        "status": row.status,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


async def _row(session: AsyncSession, key_person_id: str) -> Any:
    return (await session.execute(select(key_persons).where(key_persons.c.id == key_person_id))).one()


async def _say(
    rt: ServiceRuntime[IntakeSettings], session: AsyncSession, scheme: KeyPersonScheme, row: Any
) -> None:
    colour = scheme.colour(row.colour)
    assert colour is not None  # checked against the scheme before anything was written
    event = KeyPersonFollowUpV1(
        key_person_id=row.id,
        version=row.version,
        colour=row.colour,
        colour_name_zh=colour.name_zh,
        visit_every_working_days=colour.visit_every_working_days,
        centre_id=row.centre_id,
        grid_code=row.grid_code,
        active=row.status == "active",
        changed_at=row.updated_at,
    )
    await rt.outbox.emit(session, event.TYPE, row.id, event.model_dump(mode="json"))
