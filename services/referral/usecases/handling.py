"""A referral's handling deadline (办理时限) as the use cases change it: read with the procedure it runs
under, rewritten after an extension or a pause, put under a channel's own limit (12345's 办理时限: the
earlier of ours and theirs applies), and the suspensions that pause its clock.

Shared by department actions (extension, resume), dispatch (a department becoming lead takes on the
channel's limit) and the channel-limit use cases; the supervision ladder's next check follows every
rewrite.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.referral import store
from services.referral.domain.deadlines import (
    Deadline,
    DeadlineKind,
    ExternalLimit,
    Procedure,
    recompute,
)
from services.referral.domain.lifecycle import TransitionRefused
from services.referral.domain.procedure_documents import procedure_for
from services.referral.domain.supervision import Level
from services.referral.store import Record
from services.referral.tables import deadlines, referrals, suspensions
from services.referral.usecases.context import Context
from services.referral.usecases.supervision import ladder_start, next_check


def external_limit_of(case: Record) -> ExternalLimit | None:
    """The channel's limit on the case (12345's 办理时限), binding the first round of handling: a
    reopened case (不满意, 重办) is a new round the channel gives its own new limit, if any."""
    if case.due_by is None or not case.due_by_source or case.round != 1:
        return None
    return ExternalLimit(case.due_by, case.due_by_source)


async def end_suspension(session: AsyncSession, referral_id: str, now: datetime) -> None:
    await session.execute(
        update(suspensions)
        .where(suspensions.c.referral_id == referral_id, suspensions.c.ended_at.is_(None))
        .values(ended_at=now)
    )


class Handling:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def load(self, session: AsyncSession, referral: Row[Any]) -> tuple[Row[Any], Deadline, Procedure]:
        """The open handling deadline (row and value, with its pauses) and the procedure it runs under."""
        rows = await store.referral_deadlines(session, referral.id, kinds=[DeadlineKind.handling.value])
        if not rows:
            raise TransitionRefused("referral", referral.status, "extension", [])
        row = rows[0]
        deadline = store.to_domain(row, await store.pauses_of(session, referral.id))
        procedure = procedure_for(
            self.ctx.config.book, row.procedure_id, row.procedure_version, referral.procedure_snapshot
        )
        return row, deadline, procedure

    async def rewrite(
        self,
        session: AsyncSession,
        referral: Row[Any],
        row: Row[Any],
        deadline: Deadline,
        now: datetime,
        *,
        paused: bool,
    ) -> None:
        """Store the recomputed deadline and when the watchdog must look at it again (never while paused)."""
        config = self.ctx.config
        level = Level(row.supervision_level)
        start = ladder_start(config, row.started_at, deadline.clock, deadline.pauses)
        nxt = None if paused else next_check(config, start, deadline.due_at, now, level, deadline.clock)
        if deadline.provisional:
            self.ctx.note_provisional([deadline])
        await session.execute(
            update(deadlines)
            .where(deadlines.c.id == row.id)
            .values(
                due_at=deadline.due_at,
                extension=deadline.extension,
                provisional=deadline.provisional,
                provisional_years=sorted(deadline.provisional_years),
                next_check_at=nxt,
                updated_at=now,
                **store.external_values(deadline),
            )
        )
        if deadline.provisional and not referral.deadline_provisional:
            await session.execute(
                update(referrals).where(referrals.c.id == referral.id).values(deadline_provisional=True)
            )

    async def bind_external(
        self,
        session: AsyncSession,
        referral: Row[Any],
        external: ExternalLimit | None,
        now: datetime,
    ) -> tuple[datetime, datetime] | None:
        """Put the referral's open handling deadline under ``external`` (None: ours alone) and recompute
        it; (before, after) when it changed."""
        rows = await store.referral_deadlines(session, referral.id, kinds=[DeadlineKind.handling.value])
        if not rows:
            return None
        row = rows[0]
        deadline = store.to_domain(row, await store.pauses_of(session, referral.id))
        if deadline.external == external:
            return None
        floor = deadline.floor or referral.ack_due_at
        fresh = recompute(replace(deadline, external=external, floor=floor), self.ctx.config.calendar)
        await self.rewrite(session, referral, row, fresh, now, paused=bool(referral.suspended))
        await session.execute(
            update(referrals).where(referrals.c.id == referral.id).values(due_at=fresh.due_at, updated_at=now)
        )
        return row.due_at, fresh.due_at
