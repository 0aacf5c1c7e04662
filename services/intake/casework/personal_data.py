"""Reads of a reporter's personal data (PIPL): decrypted for a role that needs them, of a case in the
person's scope, for a stated purpose, at most HUB_INTAKE_REVEALS_PER_HOUR times an hour per person;
every read and every refused attempt audited with the person and the purpose.

The hourly count is read from the audit log itself (`personal_data.read` entries of the same actor id
in the last hour), so it holds across replicas and restarts with no other state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.crypto import DecryptionError
from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.intake.actors import Actor, forbidden
from services.intake.audit_trail import record
from services.intake.case_columns import REPORTER_FIELDS, reporter_aad
from services.intake.casework.guards import not_found
from services.intake.domain.pii import redact_free_text
from services.intake.scoping import visible_case
from services.intake.settings import IntakeSettings
from services.intake.tables import audit_log, cases

READ = "personal_data.read"
WINDOW = timedelta(hours=1)

log = logging.getLogger("hub.intake.personal_data")


@dataclass(frozen=True)
class PersonalData:
    case_no: str
    anonymous: bool
    name: str | None
    phone: str | None
    id_type: str | None
    id_number: str | None


async def read_personal_data(
    rt: ServiceRuntime[IntakeSettings], case_no: str, *, actor: Actor, purpose: str
) -> PersonalData:
    """Decrypt the reporter's name, phone and ID number for a role that needs them; every read is audited
    with the person (id, name, centre) and the purpose (phone and ID numbers in it redacted).

    A refused attempt is audited too (`personal_data.read_denied`): who tried to look is also worth
    knowing. Order: the role (403), the purpose (422), the scope (404), the hourly limit (429).
    """
    purpose = redact_free_text(" ".join(purpose.split()))
    if not actor.may("personal_data.read"):
        async with rt.db.transaction() as session:
            # The entry names the case when it exists at all (the caller learns nothing: 403 either way).
            exists = (
                await session.execute(select(cases.c.case_no).where(cases.c.case_no == case_no))
            ).first()
            await record(
                rt,
                session,
                actor,
                "personal_data.read_denied",
                case_no if exists else None,
                {"case_no": case_no, "purpose": purpose, "why": "role"},
            )
        raise forbidden(actor, "personal_data.read")
    shortest = rt.settings.intake_reveal_purpose_min_length
    if len(purpose) < shortest:
        raise Problem(
            422,
            "请说明查看个人信息的用途",
            f"查看个人信息须说明用途（至少 {shortest} 个字），例如“电话联系当事人调解”",
            type_="validation-error",
            errors=[{"field": "purpose", "message": f"at least {shortest} characters"}],
        )
    limit = rt.settings.intake_reveals_per_hour
    data: PersonalData | None = None
    refused: list[str] = []
    async with rt.db.transaction() as session:
        row = await visible_case(session, case_no, actor)
        if row is None:
            raise not_found(case_no)
        if await reveals_since(session, actor, datetime.now(UTC) - WINDOW) >= limit:
            # Committed with the refusal (a Problem raised here would roll the entry back).
            await record(
                rt,
                session,
                actor,
                "personal_data.read_denied",
                case_no,
                {"case_no": case_no, "purpose": purpose, "why": "rate_limited"},
            )
        else:
            opened: dict[str, str | None] = {}
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
                    for name, value in (
                        ("name", data.name),
                        ("phone", data.phone),
                        ("id_number", data.id_number),
                    )
                    if value is not None
                ]
                await record(rt, session, actor, READ, case_no, {"fields": fields, "purpose": purpose})
    if refused:
        log.warning("case %s: personal data does not decrypt for this case (%s)", case_no, ", ".join(refused))
        raise Problem(
            409,
            "个人信息无法解密",
            "该事项的个人信息无法用本事项的身份解密（被复制自其他事项或字段、被篡改，或密钥已退役）："
            f"{', '.join(refused)}。请检查 HUB_PII_KEY / HUB_PII_OLD_KEYS 并核查数据来源",
            type_="personal-data-undecryptable",
        )
    if data is None:
        raise _too_many(limit)
    return data


async def reveals_since(session: AsyncSession, actor: Actor, since: datetime) -> int:
    """How many reveals this person (actor id; without one, the role's anonymous callers) made since."""
    who = audit_log.c.actor_id == actor.id if actor.id is not None else audit_log.c.actor_id.is_(None)
    query = select(func.count()).where(
        audit_log.c.action == READ, audit_log.c.actor_role == actor.role, who, audit_log.c.at >= since
    )
    return int((await session.execute(query)).scalar_one())


def _too_many(limit: int) -> Problem:
    problem = Problem(
        429,
        "查看个人信息过于频繁",
        f"每人每小时最多查看 {limit} 次个人信息，请稍后再试",
        type_="rate-limited",
        limit=limit,
    )
    problem.headers = {"Retry-After": str(int(WINDOW.total_seconds()))}
    return problem
