"""Reads of a reporter's personal data (PIPL): decrypted for a role that needs them, every read and
every refused attempt audited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from hub.crypto import DecryptionError
from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.intake.actors import Actor, forbidden
from services.intake.audit_trail import record
from services.intake.casework.guards import not_found
from services.intake.tables import cases


@dataclass(frozen=True)
class PersonalData:
    case_no: str
    anonymous: bool
    name: str | None
    phone: str | None
    id_type: str | None
    id_number: str | None


async def read_personal_data(rt: ServiceRuntime, case_no: str, *, actor: Actor) -> PersonalData:
    """Decrypt the reporter's name, phone and ID number for a role that needs them; every read is audited.

    A refused attempt is audited too (`personal_data.read_denied`): who tried to look is also worth
    knowing.
    """
    if not actor.may("personal_data.read"):
        async with rt.db.transaction() as session:
            exists = (
                await session.execute(select(cases.c.case_no).where(cases.c.case_no == case_no))
            ).first()
            await record(
                rt,
                session,
                actor,
                "personal_data.read_denied",
                case_no if exists else None,
                {"case_no": case_no},
            )
        raise forbidden(actor, "personal_data.read")
    async with rt.db.transaction() as session:
        row = (await session.execute(select(cases).where(cases.c.case_no == case_no))).first()
        if row is None:
            raise not_found(case_no)
        try:
            data = PersonalData(
                case_no=case_no,
                anonymous=bool(row.reporter_anonymous),
                name=rt.cipher.decrypt(row.reporter_name_enc),
                phone=rt.cipher.decrypt(row.reporter_phone_enc),
                id_type=row.reporter_id_type,
                id_number=rt.cipher.decrypt(row.reporter_id_enc),
            )
        except DecryptionError:
            raise Problem(
                500,
                "个人信息无法解密",
                "密钥已退役或数据损坏：请检查 HUB_PII_KEY / HUB_PII_OLD_KEYS",
                type_="personal-data-undecryptable",
            ) from None
        fields = [
            name
            for name, value in (("name", data.name), ("phone", data.phone), ("id_number", data.id_number))
            if value is not None
        ]
        await record(rt, session, actor, "personal_data.read", case_no, {"fields": fields})
    return data
