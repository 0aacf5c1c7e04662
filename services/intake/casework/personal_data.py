"""Reads of a reporter's personal data (PIPL): decrypted for a role that needs them, every read and
every refused attempt audited."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select

from hub.crypto import DecryptionError
from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.intake.actors import Actor, forbidden
from services.intake.audit_trail import record
from services.intake.case_columns import REPORTER_FIELDS, reporter_aad
from services.intake.casework.guards import not_found
from services.intake.tables import cases

log = logging.getLogger("hub.intake.personal_data")


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
        opened: dict[str, str | None] = {}
        refused: list[str] = []
        for column, field in REPORTER_FIELDS:
            try:
                opened[field] = rt.cipher.decrypt(row._mapping[column], aad=reporter_aad(case_no, column))
            except DecryptionError:
                refused.append(field)
        if refused:
            # Not this row's value (copied from another case or column), altered, or a retired key:
            # nothing is shown, and the attempt is on the record.
            await record(rt, session, actor, "personal_data.undecryptable", case_no, {"fields": refused})
        else:
            data = PersonalData(
                case_no=case_no,
                anonymous=bool(row.reporter_anonymous),
                name=opened["name"],
                phone=opened["phone"],
                id_type=row.reporter_id_type,
                id_number=opened["id_number"],
            )
            fields = [
                name
                for name, value in (("name", data.name), ("phone", data.phone), ("id_number", data.id_number))
                if value is not None
            ]
            await record(rt, session, actor, "personal_data.read", case_no, {"fields": fields})
    if refused:
        log.warning("case %s: personal data does not decrypt for this case (%s)", case_no, ", ".join(refused))
        raise Problem(
            409,
            "个人信息无法解密",
            "该事项的个人信息无法用本事项的身份解密（被复制自其他事项或字段、被篡改，或密钥已退役）："
            f"{', '.join(refused)}。请检查 HUB_PII_KEY / HUB_PII_OLD_KEYS 并核查数据来源",
            type_="personal-data-undecryptable",
        )
    return data
