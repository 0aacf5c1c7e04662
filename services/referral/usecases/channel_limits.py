"""A channel's own limit on a case (12345's 办理时限, the case's `due_by`): the channel's answer to an
extension request on it (延期审核), and the limit a merged case hands to the case it was merged into.

The limit binds the lead's handling deadline in the first round (the earlier of ours and theirs, see
:func:`services.referral.usecases.handling.external_limit_of`); when it moves, the deadline is
recomputed and the supervision ladder follows. Each change is audited.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.referral import CaseExternalExtensionAnsweredV1
from services.referral import store
from services.referral.actors import Actor
from services.referral.domain.centres import redact_reason
from services.referral.domain.deadlines import ExternalLimit
from services.referral.domain.lifecycle import CASE_MACHINE
from services.referral.tables import cases
from services.referral.usecases.context import Context
from services.referral.usecases.handling import Handling


class ChannelLimits:
    def __init__(self, ctx: Context, handling: Handling) -> None:
        self.ctx = ctx
        self.handling = handling

    async def extension_answered(
        self,
        session: AsyncSession,
        case_no: str,
        *,
        source: str,
        approved: bool,
        limit: datetime | None,
        external_id: str | None,
        note: str | None,
        actor: Actor,
    ) -> bool | None:
        """The channel answered an extension request on its limit (12345 延期审核). Approved: the case's
        `due_by` becomes the new limit and the lead's handling deadline is recomputed under it (the
        earlier of ours and theirs again; the supervision ladder follows). Denied: recorded, nothing
        moves. None: the case has not reached referral yet."""
        case = await store.lock_case(session, case_no)
        if case is None:
            return None
        now = self.ctx.clock()
        note = redact_reason(note) if note else None
        lead = next(
            (r for r in await store.open_referrals(session, case_no, round_=case.round) if r.role == "lead"),
            None,
        )
        moved: tuple[datetime, datetime] | None = None
        if approved and limit is not None:
            await session.execute(
                update(cases)
                .where(cases.c.case_no == case_no)
                .values(due_by=limit, due_by_source=source, updated_at=now)
            )
            if lead is not None and case.round == 1:
                moved = await self.handling.bind_external(session, lead, ExternalLimit(limit, source), now)
        due_by = limit if approved and limit is not None else case.due_by
        event = CaseExternalExtensionAnsweredV1(
            case_no=case_no,
            source=source,
            approved=approved,
            due_by=due_by,
            previous_due_by=case.due_by,
            referral_id=lead.id if lead is not None else None,
            department=lead.department if lead is not None else None,
            due_at=moved[1] if moved else (lead.due_at if lead is not None else None),
            previous_due_at=moved[0] if moved else None,
            external_id=external_id,
            note=note,
        )
        await self.ctx.emit(session, event, actor)
        await self.ctx.record(
            session,
            actor,
            "case.due_by_extended" if approved else "case.due_by_extension_denied",
            case_no,
            {
                "source": source,
                "external_id": external_id,
                "due_by": due_by.isoformat() if due_by else None,
                "previous_due_by": case.due_by.isoformat() if case.due_by else None,
                "lead_due_at": event.due_at.isoformat() if event.due_at else None,
            },
        )
        return True

    async def take_over(
        self,
        session: AsyncSession,
        into: str,
        limit: tuple[datetime, str],
        from_case: str,
        actor: Actor,
        now: datetime,
    ) -> None:
        """The case ``into`` takes over a merged case's limit where it is earlier than its own."""
        target = await store.lock_case(session, into)
        if target is None or CASE_MACHINE.is_final(target.status):
            return
        due_by, source = limit
        if target.due_by is not None and target.due_by <= due_by:
            return  # its own limit is already the earlier one
        await session.execute(
            update(cases)
            .where(cases.c.case_no == into)
            .values(due_by=due_by, due_by_source=source, updated_at=now)
        )
        moved = None
        lead = next(
            (r for r in await store.open_referrals(session, into, round_=target.round) if r.role == "lead"),
            None,
        )
        if lead is not None and target.round == 1:
            moved = await self.handling.bind_external(session, lead, ExternalLimit(due_by, source), now)
        await self.ctx.record(
            session,
            actor,
            "case.due_by_taken_over",
            into,
            {
                "from_case": from_case,
                "source": source,
                "due_by": due_by.isoformat(),
                "previous_due_by": target.due_by.isoformat() if target.due_by else None,
                "lead_due_at": moved[1].isoformat() if moved else None,
            },
        )
