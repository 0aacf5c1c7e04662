"""A case's status after registration, projected from referral's events (referral owns the life
cycle; intake keeps open / closed / withdrawn / returned_to_channel to refuse merges)."""

from __future__ import annotations

from sqlalchemy import select, update

from hub.messaging.consumer import HandlerContext
from hub.runtime import ServiceRuntime
from services.intake.actors import Actor
from services.intake.audit_trail import record
from services.intake.casework.guards import OPEN
from services.intake.tables import cases

SYSTEM_REFERRAL = Actor(role="system", id="referral", kind="system")
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
