"""Changes to a registered case (研判 after registration) and reads of its personal data.

Each operation is one transaction: lock the case row(s), check the state, change, write the event
to the outbox, and append the audit entry last (hub/audit.py: the audit tail lock is then held only
until commit). Free text from staff is redacted of phone and ID numbers before it is stored, audited
or sent.

Decisions (docs: services/intake/README.md):
- Override: a supervisor sets the colour (and optionally the response level; else the rules'
  level for that colour). The override becomes the first of `colour_reasons` (rule_id
  `override.supervisor`), the rules that fired stay listed after it, `colour_overridden` is true.
- Category correction: the case is graded again under the new category, including the repeat count
  (the same matter is the same category). Without an override the colour, reasons and response
  level follow the new grading — so the colour stays unless the grading changes it. A supervisor's
  override stands: the correction replaces the rule reasons behind it but not the colour.
  The suspected-duplicate link is left as it is (a dispatcher unlinks it if the category shows it
  is a different matter).
- Merge: `case_no` becomes `merged`, `merged_into` is set, and the surviving case takes over the
  reply/callback duty of the merged case's channel plus any duties it had taken over (`duties`).
- Note: text added later (a staff note, a 12345 urge's content) is kept and the open case graded
  again with it read (a note on a merged case goes to the case it was merged into). New words may raise the colour (case.assessment_changed.v1, change `note`),
  never lower it; with a supervisor's override the colour stands and only the rule reasons behind it
  are updated (the audit entry records the rules' colour).
- Only open cases (status `registered`; referral owns the life cycle, intake projects `closed` and
  `withdrawn`) are changed; anything else is refused with 409 naming the state and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import audit
from hub.contracts.intake import (
    CaseAssessmentChangedV1,
    CaseDuplicateUnlinkedV1,
    CaseMergedV1,
    ChannelDuty,
)
from hub.crypto import DecryptionError
from hub.messaging.consumer import HandlerContext
from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.intake.actors import Actor, forbidden
from services.intake.assessment import Assessor, Candidate
from services.intake.domain.pii import redact_free_text
from services.intake.matching import same_source
from services.intake.tables import audit_log, case_notes, cases

OPEN = "registered"
OVERRIDE_RULE = "override.supervisor"
REPEAT_WINDOW = timedelta(days=30)

# What intake still allows on a case in each state (named in 409 answers).
ALLOWED: dict[str, list[str]] = {
    "registered": ["assessment", "category", "merge", "unlink", "notes", "personal-data"],
    "merged": ["personal-data"],  # a note on it goes to the case it was merged into
    "closed": ["unlink", "notes", "personal-data"],
    "withdrawn": ["unlink", "notes", "personal-data"],
    "returned_to_channel": ["unlink", "notes", "personal-data"],
}
STATUS_ZH = {
    "registered": "在办",
    "merged": "已合并",
    "closed": "已办结",
    "withdrawn": "已撤回",
    "returned_to_channel": "已回退来源渠道",
}


async def record(
    rt: ServiceRuntime,
    session: AsyncSession,
    actor: Actor,
    action: str,
    case_no: str | None,
    detail: dict[str, Any],
) -> None:
    """Append to intake's audit log inside the current transaction (call it last)."""
    await audit.append(
        session,
        audit_log,
        key=rt.settings.hash_key,
        actor_role=actor.role,
        actor_id=actor.id,
        action=action,
        case_no=case_no,
        detail=detail,
    )


def not_found(case_no: str) -> Problem:
    return Problem(404, "未找到该事项", f"没有编号为 {case_no} 的事项", type_="case-not-found")


def conflict(row: Any, detail: str) -> Problem:
    return Problem(
        409,
        "事项状态不允许此操作",
        f"{detail}（当前状态: {row.status} {STATUS_ZH.get(row.status, '')}；允许: "
        f"{', '.join(ALLOWED.get(row.status, [])) or '无'}）",
        type_="case-state-conflict",
        case_no=row.case_no,
        case_status=row.status,
        allowed_actions=ALLOWED.get(row.status, []),
    )


async def _lock(session: AsyncSession, case_no: str) -> Any:
    row = (await session.execute(select(cases).where(cases.c.case_no == case_no).with_for_update())).first()
    if row is None:
        raise not_found(case_no)
    return row


async def _reload(session: AsyncSession, case_no: str) -> Any:
    return (await session.execute(select(cases).where(cases.c.case_no == case_no))).one()


def _require_open(row: Any, action_zh: str) -> None:
    if row.status != OPEN:
        raise conflict(row, f"事项 {row.case_no} 不能{action_zh}")


def _rule_reasons(reasons: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [r for r in reasons or [] if not str(r.get("rule_id", "")).startswith("override.")]


def _override_reasons(reasons: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [r for r in reasons or [] if str(r.get("rule_id", "")).startswith("override.")]


# --- override (supervisor) -----------------------------------------------------------------------


async def override_assessment(
    rt: ServiceRuntime,
    assessor: Assessor,
    case_no: str,
    *,
    colour: str,
    reason: str,
    response_level: str | None,
    actor: Actor,
) -> Any:
    now = datetime.now(UTC)
    reason = redact_free_text(reason)
    async with rt.db.transaction() as session:
        row = await _lock(session, case_no)
        _require_open(row, "调整风险等级")
        level = response_level or assessor.response_level_for(colour)
        entry = {
            "rule_id": OVERRIDE_RULE,
            "colour": colour,
            "description_zh": f"人工调整：{reason}",
            "inputs": {"previous_colour": row.colour, "actor_role": actor.role},
        }
        reasons = [entry, *_rule_reasons(row.colour_reasons)]
        await session.execute(
            update(cases)
            .where(cases.c.case_no == case_no)
            .values(
                colour=colour,
                colour_reasons=reasons,
                colour_overridden=True,
                response_level=level,
                override_reason=reason,
                override_actor_role=actor.role,
                override_actor_id=actor.id,
                overridden_at=now,
            )
        )
        event = CaseAssessmentChangedV1(
            case_no=case_no,
            colour=colour,
            response_level=level,
            reason=reason,
            colour_reasons=reasons,
            change="override",
            category=row.category,
            previous_category=row.category,
            previous_colour=row.colour,
            colour_overridden=True,
            actor_role=actor.role,
            actor_id=actor.id,
            changed_at=now,
        )
        await rt.outbox.emit(session, event.TYPE, case_no, event.model_dump(mode="json"))
        await record(
            rt,
            session,
            actor,
            "case.assessment_overridden",
            case_no,
            {
                "from_colour": row.colour,
                "to_colour": colour,
                "from_response_level": row.response_level,
                "to_response_level": level,
                "reason": reason,
            },
        )
        return await _reload(session, case_no)


# --- category correction (dispatcher) ------------------------------------------------------------


@dataclass(frozen=True)
class Changed:
    changed: bool
    row: Any


async def correct_category(
    rt: ServiceRuntime, assessor: Assessor, case_no: str, *, category: str, reason: str, actor: Actor
) -> Changed:
    now = datetime.now(UTC)
    reason = redact_free_text(reason)
    async with rt.db.transaction() as session:
        row = await _lock(session, case_no)
        _require_open(row, "更正类别")
        if row.category == category:
            return Changed(False, row)  # a repeated request: nothing to change, nothing to say
        repeat_count = await _repeat_count(session, assessor, row, category)
        graded = await _grade_again(session, assessor, row, category=category, repeat_count=repeat_count)
        if row.colour_overridden:
            colour, level = row.colour, row.response_level
            reasons = [*_override_reasons(row.colour_reasons), *graded.reasons]
        else:
            colour, level, reasons = graded.colour, graded.response_level, graded.reasons
        await session.execute(
            update(cases)
            .where(cases.c.case_no == case_no)
            .values(
                category=category,
                category_source="dispatcher",
                category_words=[],
                category_reason=reason,
                colour=colour,
                colour_reasons=reasons,
                response_level=level,
                repeat_count_30d=repeat_count,
            )
        )
        event = CaseAssessmentChangedV1(
            case_no=case_no,
            colour=colour,
            response_level=level,
            reason=reason,
            colour_reasons=reasons,
            change="category_correction",
            category=category,
            previous_category=row.category,
            previous_colour=row.colour,
            colour_overridden=bool(row.colour_overridden),
            actor_role=actor.role,
            actor_id=actor.id,
            changed_at=now,
        )
        await rt.outbox.emit(session, event.TYPE, case_no, event.model_dump(mode="json"))
        await record(
            rt,
            session,
            actor,
            "case.category_corrected",
            case_no,
            {
                "from_category": row.category,
                "to_category": category,
                "from_colour": row.colour,
                "to_colour": colour,
                "rules_colour": graded.colour,
                "from_response_level": row.response_level,
                "to_response_level": level,
                "repeat_count_30d": repeat_count,
                "reason": reason,
            },
        )
        return Changed(True, await _reload(session, case_no))


async def _grade_again(
    session: AsyncSession, assessor: Assessor, row: Any, *, category: str, repeat_count: int
) -> Any:
    """The rules' assessment of a stored case: its structured facts, and its title, description and
    notes read again."""
    return assessor.grade_stored(
        category=category,
        people_involved=row.people_involved,
        amount_yuan=row.amount_yuan,
        flags=row.flags or [],
        repeat_count=repeat_count,
        request_type=row.request_type,
        channel=row.channel,
        urgent=bool(row.urgent),
        title=row.title,
        description=row.description,
        notes=await notes_of(session, row.case_no),
    )


async def notes_of(session: AsyncSession, case_no: str) -> list[tuple[int, str]]:
    rows = await session.execute(
        select(case_notes.c.note_no, case_notes.c.text)
        .where(case_notes.c.case_no == case_no)
        .order_by(case_notes.c.note_no)
    )
    return [(r.note_no, r.text) for r in rows]


async def _repeat_count(session: AsyncSession, assessor: Assessor, row: Any, category: str) -> int:
    """Earlier reports of the same matter (now: this category) in the 30 days before this case."""
    registered_at = _aware(row.registered_at)
    earlier = (
        await session.execute(
            select(
                cases.c.case_no,
                cases.c.reporter_phone_hash,
                cases.c.address_key,
                cases.c.category,
                cases.c.registered_at,
            ).where(
                same_source(row.address_key, row.reporter_phone_hash),
                cases.c.category == category,
                cases.c.case_no != row.case_no,
                cases.c.registered_at >= registered_at - REPEAT_WINDOW,
                cases.c.registered_at <= registered_at,
            )
        )
    ).all()
    this = Candidate(row.case_no, row.reporter_phone_hash, row.address_key, category, registered_at, "")
    return assessor.repeat_count(
        this,
        [
            Candidate(
                r.case_no, r.reporter_phone_hash, r.address_key, r.category, _aware(r.registered_at), ""
            )
            for r in earlier
        ],
    )


# --- notes: text after registration (staff, 12345 urges) ----------------------------------------


@dataclass(frozen=True)
class NoteAdded:
    created: bool  # False: the same Idempotency-Key again, nothing added
    note_no: int
    previous_colour: str
    row: Any

    @property
    def raised(self) -> bool:
        return self.created and self.row.colour != self.previous_colour


async def add_note(
    rt: ServiceRuntime,
    assessor: Assessor,
    case_no: str,
    *,
    text: str,
    actor: Actor,
    idempotency_key: str | None = None,
) -> NoteAdded:
    """Keep the note and grade the open case again with it read (raise only; an override stands)."""
    now = datetime.now(UTC)
    text = redact_free_text(text)
    async with rt.db.transaction() as session:
        row = await _lock(session, case_no)
        for _hop in range(10):  # a merged case's matter lives on in the case it was merged into
            if row.status != "merged" or not row.merged_into:
                break
            row = await _lock(session, row.merged_into)
        case_no = row.case_no
        if idempotency_key:
            earlier = (
                await session.execute(
                    select(case_notes.c.case_no, case_notes.c.note_no).where(
                        case_notes.c.idempotency_key == idempotency_key
                    )
                )
            ).first()
            if earlier is not None:
                if earlier.case_no != case_no:
                    raise Problem(
                        422,
                        "幂等键已用于其他事项",
                        f"Idempotency-Key 已用于事项 {earlier.case_no} 的备注",
                        type_="idempotency-key-reused",
                        errors=[{"field": "Idempotency-Key", "message": "used for another case's note"}],
                    )
                return NoteAdded(False, earlier.note_no, row.colour, row)
        last = (
            await session.execute(
                select(func.max(case_notes.c.note_no)).where(case_notes.c.case_no == case_no)
            )
        ).scalar_one()
        note_no = (last or 0) + 1
        await session.execute(
            case_notes.insert().values(
                case_no=case_no,
                note_no=note_no,
                text=text,
                actor_role=actor.role,
                actor_id=actor.id,
                idempotency_key=idempotency_key,
                created_at=now,
            )
        )
        detail: dict[str, Any] = {
            "note_no": note_no,
            "text": text,
            "idempotency_key_given": idempotency_key is not None,
            "from_colour": row.colour,
        }
        if row.status != OPEN:
            # Kept for the record; grading is for open cases (referral owns what follows a closing).
            await record(rt, session, actor, "case.note_added", case_no, {**detail, "to_colour": row.colour})
            return NoteAdded(True, note_no, row.colour, await _reload(session, case_no))
        graded = await _grade_again(
            session, assessor, row, category=row.category, repeat_count=row.repeat_count_30d
        )
        colour, level, reasons = row.colour, row.response_level, row.colour_reasons
        if row.colour_overridden:
            reasons = [*_override_reasons(row.colour_reasons), *graded.reasons]
        elif assessor.severity(graded.colour) >= assessor.severity(row.colour):
            colour, level, reasons = graded.colour, graded.response_level, graded.reasons
        # else: the rules now say less (rules reloaded since): a note never lowers a colour.
        if reasons != row.colour_reasons:
            await session.execute(
                update(cases)
                .where(cases.c.case_no == case_no)
                .values(colour=colour, response_level=level, colour_reasons=reasons)
            )
        if colour != row.colour:
            event = CaseAssessmentChangedV1(
                case_no=case_no,
                colour=colour,
                response_level=level,
                reason=f"第{note_no}条补充内容显示风险升高：{reasons[0]['description_zh']}",
                colour_reasons=reasons,
                change="note",
                category=row.category,
                previous_category=row.category,
                previous_colour=row.colour,
                colour_overridden=False,
                actor_role=actor.role,
                actor_id=actor.id,
                changed_at=now,
            )
            await rt.outbox.emit(session, event.TYPE, case_no, event.model_dump(mode="json"))
        await record(
            rt,
            session,
            actor,
            "case.note_added",
            case_no,
            {
                **detail,
                "to_colour": colour,
                "rules_colour": graded.colour,
                "from_response_level": row.response_level,
                "to_response_level": level,
                "reasons_updated": reasons != row.colour_reasons,
            },
        )
        return NoteAdded(True, note_no, row.colour, await _reload(session, case_no))


# --- merge and unlink (dispatcher) ---------------------------------------------------------------


async def merge_case(rt: ServiceRuntime, case_no: str, *, into: str, reason: str | None, actor: Actor) -> Any:
    now = datetime.now(UTC)
    reason = redact_free_text(reason) if reason else None
    async with rt.db.transaction() as session:
        # Both rows locked in one statement, in key order, so two opposite merges cannot deadlock.
        rows = {
            r.case_no: r
            for r in await session.execute(
                select(cases)
                .where(cases.c.case_no.in_({case_no, into}))
                .order_by(cases.c.case_no)
                .with_for_update()
            )
        }
        row = rows.get(case_no)
        if row is None:
            raise not_found(case_no)
        if into == case_no:
            raise conflict(row, f"事项 {case_no} 不能合并到自身")
        if row.status == "merged":
            raise conflict(row, f"事项 {case_no} 已合并到 {row.merged_into}")
        _require_open(row, "合并")
        target = rows.get(into)
        if target is None:
            raise Problem(
                422,
                "请求内容有误",
                f"合并目标 {into} 不存在",
                type_="validation-error",
                errors=[{"field": "into", "message": f"no case {into}"}],
            )
        if target.status == "merged":
            raise conflict(
                target, f"目标事项 {into} 已合并到 {target.merged_into}，请合并到 {target.merged_into}"
            )
        _require_open(target, "接收合并")
        moved = [
            ChannelDuty(
                case_no=case_no,
                channel=row.channel,
                source_ref=row.source_ref,
                due_by=row.due_by,
                due_by_source=row.due_by_source,
            ),
            *(ChannelDuty.model_validate(d) for d in row.duties or []),
        ]
        moved_json = [d.model_dump(mode="json") for d in moved]
        await session.execute(
            update(cases)
            .where(cases.c.case_no == case_no)
            .values(status="merged", merged_into=into, merged_at=now, duties=None)
        )
        await session.execute(
            update(cases).where(cases.c.case_no == into).values(duties=[*(target.duties or []), *moved_json])
        )
        event = CaseMergedV1(
            case_no=case_no,
            into=into,
            channel=row.channel,
            source_ref=row.source_ref,
            duties=moved,
            reason=reason,
            actor_role=actor.role,
            actor_id=actor.id,
            merged_at=now,
        )
        await rt.outbox.emit(session, event.TYPE, case_no, event.model_dump(mode="json"))
        await record(
            rt,
            session,
            actor,
            "case.merged",
            case_no,
            {
                "into": into,
                "was_duplicate_of": row.duplicate_of,
                "duties_moved": moved_json,
                "reason": reason,
            },
        )
        await record(
            rt, session, actor, "case.duties_received", into, {"from": case_no, "duties": moved_json}
        )
        return await _reload(session, case_no)


async def unlink_duplicate(rt: ServiceRuntime, case_no: str, *, reason: str | None, actor: Actor) -> Any:
    now = datetime.now(UTC)
    reason = redact_free_text(reason) if reason else None
    async with rt.db.transaction() as session:
        row = await _lock(session, case_no)
        if row.status == "merged":
            raise conflict(row, f"事项 {case_no} 已合并到 {row.merged_into}，合并后不能解除关联")
        if row.duplicate_of is None:
            raise conflict(row, f"事项 {case_no} 没有疑似重复关联可解除")
        await session.execute(update(cases).where(cases.c.case_no == case_no).values(duplicate_of=None))
        event = CaseDuplicateUnlinkedV1(
            case_no=case_no,
            was_duplicate_of=row.duplicate_of,
            reason=reason,
            actor_role=actor.role,
            actor_id=actor.id,
            unlinked_at=now,
        )
        await rt.outbox.emit(session, event.TYPE, case_no, event.model_dump(mode="json"))
        await record(
            rt,
            session,
            actor,
            "case.duplicate_unlinked",
            case_no,
            {"was_duplicate_of": row.duplicate_of, "reason": reason},
        )
        return await _reload(session, case_no)


# --- personal data (PIPL) ------------------------------------------------------------------------


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


# --- status projected from referral's events -----------------------------------------------------

SYSTEM_REFERRAL = Actor(role="system", id="referral")
_PROJECTED = {
    "case.closed.v1": "closed",
    "case.withdrawn.v1": "withdrawn",
    "case.reopened.v1": OPEN,
    "case.returned_to_channel.v1": "returned_to_channel",  # 回退: given back to 12345
}


async def project_case_status(ctx: HandlerContext, rt: ServiceRuntime) -> None:
    """Referral owns the life cycle after registration; intake keeps open / closed / withdrawn /
    returned_to_channel to refuse merges."""
    event = ctx.event
    status = _PROJECTED[event.type]
    case_no = event.subject or str(event.data.get("case_no") or "")
    row = (
        await ctx.session.execute(select(cases.c.status).where(cases.c.case_no == case_no).with_for_update())
    ).first()
    if row is None or row.status == "merged" or row.status == status:
        return
    await ctx.session.execute(update(cases).where(cases.c.case_no == case_no).values(status=status))
    await record(
        rt,
        ctx.session,
        SYSTEM_REFERRAL,
        "case.status_changed",
        case_no,
        {"from": row.status, "to": status, "event": event.type, "event_id": event.id},
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
