"""Text added to a case after registration (a staff note, a 12345 urge's content).

The note is kept and the open case graded again with it read (a note on a merged case goes to the
case it was merged into). New words may raise the colour (case.assessment_changed.v1, change
`note`), never lower it; with a supervisor's override the colour stands and only the rule reasons
behind it are updated (the audit entry records the rules' colour).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update

from hub.contracts.intake import CaseAssessmentChangedV1
from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.intake.actors import Actor
from services.intake.assessment import Assessor
from services.intake.audit_trail import record
from services.intake.casework.guards import OPEN, lock_case, reload_case
from services.intake.casework.regrading import grade_again, override_reasons
from services.intake.domain.pii import redact_free_text
from services.intake.idempotency import body_digest, check_same_body, scoped_key
from services.intake.tables import case_notes, cases


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
        row = await lock_case(session, case_no, actor)
        for _hop in range(10):  # a merged case's matter lives on in the case it was merged into
            if row.status != "merged" or not row.merged_into:
                break
            row = await lock_case(session, row.merged_into, actor)
        case_no = row.case_no
        key = scoped_key(actor, idempotency_key)
        digest = body_digest({"text": text}) if key else None  # another case: the 422 below
        if key:
            earlier = (
                await session.execute(
                    select(case_notes.c.case_no, case_notes.c.note_no, case_notes.c.idempotency_body).where(
                        case_notes.c.idempotency_key == key
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
                check_same_body(earlier.idempotency_body, digest or "", "备注")
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
                idempotency_key=key,
                idempotency_body=digest,
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
            return NoteAdded(True, note_no, row.colour, await reload_case(session, case_no))
        graded = await grade_again(
            session, assessor, row, category=row.category, repeat_count=row.repeat_count_30d
        )
        colour, level, reasons = row.colour, row.response_level, row.colour_reasons
        if row.colour_overridden:
            reasons = [*override_reasons(row.colour_reasons), *graded.reasons]
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
        return NoteAdded(True, note_no, row.colour, await reload_case(session, case_no))
