"""Follow-ups of closed cases (三色管理): a closed red, orange or yellow case is visited again daily,
weekly or monthly for a period (followups.yaml). The schedule is one `deadlines` row written at
closure; the watchdog fires it when due: ``case.follow_up_due.v1`` and one task on the centre's
worklist per follow-up, never a burst for dates it missed while away.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.referral import CaseFollowUpDueV1
from services.referral import store
from services.referral.actors import SYSTEM
from services.referral.config import Cadence, FollowUpRule
from services.referral.domain.supervision import Level
from services.referral.store import Record
from services.referral.tables import deadlines
from services.referral.usecases.context import Context
from services.referral.usecases.worklist import Worklist


class FollowUps:
    def __init__(self, ctx: Context, worklist: Worklist) -> None:
        self.ctx = ctx
        self.worklist = worklist

    async def schedule(self, session: AsyncSession, case: Record, closed_at: datetime) -> None:
        """At closure: the case's follow-up schedule, if its colour has one."""
        rule = self.ctx.config.follow_ups.for_colour(case.colour)
        if rule is None:
            return
        first, end = rule.occurrence(closed_at, 1), rule.period_end(closed_at)
        if first > end:
            return
        await session.execute(
            deadlines.insert().values(
                case_no=case.case_no,
                referral_id=None,
                department=None,
                kind=store.FOLLOW_UP,
                limit_text=rule.cadence.value,
                started_at=closed_at,
                due_at=end,
                extension=0,
                provisional=False,
                provisional_years=[],
                status="open",
                supervision_level=Level.none.value,
                follow_up_seq=0,
                next_check_at=first,
                updated_at=closed_at,
            )
        )

    async def fire(self, session: AsyncSession, case: Record, row: Row[Any], now: datetime) -> bool:
        """The watchdog found the schedule due: the latest follow-up due now, and when the next one is."""
        rule = FollowUpRule(case.colour, Cadence(row.limit_text), 1)
        started, end = row.started_at, row.due_at
        n = row.follow_up_seq + 1
        while rule.occurrence(started, n + 1) <= min(now, end):
            n += 1  # the watchdog was away: one follow-up for the latest missed date, not a burst
        scheduled = rule.occurrence(started, n)
        following = rule.occurrence(started, n + 1)
        last = following > end
        event = CaseFollowUpDueV1(
            case_no=case.case_no,
            colour=case.colour,
            cadence=row.limit_text,
            sequence=n,
            scheduled_at=scheduled,
            last=last,
        )
        await self.ctx.emit(session, event, SYSTEM)
        await self.worklist.follow_up_due(session, case, event)  # on the centre's worklist, once
        await session.execute(
            update(deadlines)
            .where(deadlines.c.id == row.id)
            .values(
                follow_up_seq=n,
                next_check_at=None if last else following,
                status="met" if last else "open",
                met_at=now if last else None,
                updated_at=now,
            )
        )
        return True
