"""The centre holding a case, projected from referral's events: where referral placed it at
registration (case.centre_assigned.v1) and where 上报/下派 moved it (case.centre_moved.v1). Intake
scopes every read and action by it (services/intake/scoping.py, docs/decisions/0013-centre-scoping.md).

Events may arrive late or twice: each carries its time, and an older one never overwrites a newer
placement (`centre_at`).
"""

from __future__ import annotations

from sqlalchemy import or_, update

from hub.messaging.consumer import HandlerContext
from services.intake.tables import cases

_CENTRE_FIELD = {"case.centre_assigned.v1": "centre_id", "case.centre_moved.v1": "to_centre"}


async def project_holding_centre(ctx: HandlerContext) -> None:
    event = ctx.event
    case_no = event.subject or str(event.data.get("case_no") or "")
    centre = str(event.data.get(_CENTRE_FIELD[event.type]) or "") or None
    if not case_no or centre is None:
        return
    await ctx.session.execute(
        update(cases)
        .where(cases.c.case_no == case_no, or_(cases.c.centre_at.is_(None), cases.c.centre_at <= event.time))
        .values(centre_id=centre, centre_at=event.time)
    )
