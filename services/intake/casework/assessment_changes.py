"""A case's assessment changed by staff: a supervisor's override, a dispatcher's category correction.

- Override: a supervisor sets the colour (and optionally the response level; else the rules'
  level for that colour). The override becomes the first of `colour_reasons` (rule_id
  `override.supervisor`), the rules that fired stay listed after it, `colour_overridden` is true.
- Category correction: the case is graded again under the new category, including the repeat count
  (the same matter is the same category). Without an override the colour, reasons and response
  level follow the new grading — so the colour stays unless the grading changes it. A supervisor's
  override stands: the correction replaces the rule reasons behind it but not the colour.
  The suspected-duplicate link is left as it is (a dispatcher unlinks it if the category shows it
  is a different matter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from hub.contracts.intake import CaseAssessmentChangedV1
from hub.runtime import ServiceRuntime
from services.intake.actors import Actor
from services.intake.assessment import Assessor
from services.intake.audit_trail import record
from services.intake.casework.guards import lock_case, reload_case, require_open
from services.intake.casework.regrading import count_repeats, grade_again, override_reasons, rule_reasons
from services.intake.domain.pii import redact_free_text
from services.intake.tables import cases

OVERRIDE_RULE = "override.supervisor"


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
        row = await lock_case(session, case_no, actor)
        require_open(row, "调整风险等级")
        level = response_level or assessor.response_level_for(colour)
        entry = {
            "rule_id": OVERRIDE_RULE,
            "colour": colour,
            "description_zh": f"人工调整：{reason}",
            "inputs": {"previous_colour": row.colour, "actor_role": actor.role},
        }
        reasons = [entry, *rule_reasons(row.colour_reasons)]
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
        return await reload_case(session, case_no)


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
        row = await lock_case(session, case_no, actor)
        require_open(row, "更正类别")
        if row.category == category:
            return Changed(False, row)  # a repeated request: nothing to change, nothing to say
        repeat_count = await count_repeats(session, assessor, row, category)
        graded = await grade_again(session, assessor, row, category=category, repeat_count=repeat_count)
        if row.colour_overridden:
            colour, level = row.colour, row.response_level
            reasons = [*override_reasons(row.colour_reasons), *graded.reasons]
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
        return Changed(True, await reload_case(session, case_no))
