"""The supervision ladder (督办) on the application side, in one place: when the watchdog must look at a
deadline again, the ladder step it climbs when it does, 12345 urges (催办), and recording the steps
reached (one ``referral.supervision_raised.v1`` each, the level and the next check time stored).

The ladder itself — which step is due when, what an urge does — is pure
(:mod:`services.referral.domain.supervision`); the watchdog (:mod:`services.referral.watchdog`) only
claims due rows and hands each one to :meth:`Supervision.climb`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.referral import ReferralSupervisionRaisedV1
from services.referral import store
from services.referral.actors import SYSTEM, Actor
from services.referral.config import ReferralConfig
from services.referral.domain.calendar import ClockKind, Pause
from services.referral.domain.deadlines import DeadlineKind
from services.referral.domain.supervision import (
    LADDER,
    Level,
    apply_urge,
    due_level,
    higher,
    next_step_at,
    steps_between,
)
from services.referral.store import Record
from services.referral.tables import deadlines, referrals
from services.referral.usecases.context import Context

# The stage a deadline kind belongs to, as the supervision event names it.
_STAGE = {
    "acknowledge": "acknowledge",
    "acceptance": "acknowledge",
    "handling": "handling",
    "meeting": "handling",
}


def next_check(
    config: ReferralConfig,
    started_at: datetime,
    due_at: datetime,
    now: datetime,
    level: Level,
    clock: ClockKind,
) -> datetime | None:
    """When the watchdog must look again: now if a step is already due above ``level`` (e.g. a
    deadline that passed while its clock was paused), else the next step's time; None at the top."""
    policy = config.book.supervision
    reached = due_level(started_at, due_at, now, config.calendar, clock=clock, policy=policy)
    if reached.rank > level.rank:
        return now
    return next_step_at(started_at, due_at, now, config.calendar, current=level, clock=clock, policy=policy)


def ladder_start(
    config: ReferralConfig, started_at: datetime, clock: ClockKind, pauses: Sequence[Pause]
) -> datetime:
    """Where the supervision ladder counts from: the start moved out by the time the clock was paused,
    so "80% of the deadline" means 80% of the time that actually counted."""
    if not pauses:
        return started_at
    paused = sum((config.calendar.elapsed(p.start, p.end, clock) for p in pauses), timedelta(0))
    if clock is ClockKind.working:
        return config.calendar.add_working_time(started_at, paused).due
    return started_at + paused


async def ladder_start_of(session: AsyncSession, config: ReferralConfig, row: Row[Any]) -> datetime:
    """The ladder start of a deadline row (handling deadlines pause while the referral is suspended)."""
    if row.kind != DeadlineKind.handling.value or row.referral_id is None:
        return row.started_at
    return ladder_start(
        config, row.started_at, store.clock_of(row), await store.pauses_of(session, row.referral_id)
    )


class Supervision:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def climb(
        self, session: AsyncSession, case: Record, referral: Row[Any] | None, row: Row[Any], now: datetime
    ) -> bool:
        """The watchdog found this deadline due: record the steps reached since its stored level (or
        when to look again, if it moved out); False when nothing fired."""
        if referral is None or referral.status not in store.OPEN_REFERRAL_STATES:
            await session.execute(
                update(deadlines).where(deadlines.c.id == row.id).values(next_check_at=None)
            )
            return False
        config = self.ctx.config
        stored = Level(row.supervision_level)
        clock = store.clock_of(row)
        start = await ladder_start_of(session, config, row)
        reached = due_level(
            start, row.due_at, now, config.calendar, clock=clock, policy=config.book.supervision
        )
        if reached.rank <= stored.rank:  # e.g. the deadline moved out (extension): look again later
            nxt = next_check(config, start, row.due_at, now, stored, clock)
            await session.execute(
                update(deadlines).where(deadlines.c.id == row.id).values(next_check_at=nxt, updated_at=now)
            )
            return False
        paused = bool(referral.suspended) and row.kind == "handling"
        steps = steps_between(stored, reached)
        await self.raise_level(session, case, referral, row, steps, now, SYSTEM, paused=paused)
        return True

    async def urge(self, session: AsyncSession, case_no: str, actor: Actor) -> int:
        """A 12345 urge moves each open referral of the case one step up its active ladder; how many
        moved (-1: the case has not reached referral yet)."""
        case = await store.lock_case(session, case_no)
        if case is None:
            return -1
        now = self.ctx.clock()
        raised = 0
        for referral in await store.open_referrals(session, case_no, round_=case.round):
            open_ladders = await store.referral_deadlines(session, referral.id, kinds=store.LADDER_KINDS)
            by_kind = {row.kind: row for row in open_ladders}
            row = by_kind.get(DeadlineKind.acknowledge.value) or by_kind.get(DeadlineKind.handling.value)
            if row is None:
                continue
            current = Level(row.supervision_level)
            new = apply_urge(current)
            if new is current:
                continue
            paused = bool(referral.suspended) and row.kind == DeadlineKind.handling.value
            await self.raise_level(session, case, referral, row, [new], now, actor, urged=True, paused=paused)
            raised += 1
        return raised

    async def raise_level(
        self,
        session: AsyncSession,
        case: Record,
        referral: Row[Any],
        row: Row[Any],
        steps: Sequence[Level],
        now: datetime,
        actor: Actor,
        *,
        urged: bool = False,
        paused: bool = False,
    ) -> None:
        """Record the ladder steps reached on one deadline (one event each) and when to look again."""
        config = self.ctx.config
        policy = config.book.supervision
        overdue_days = {
            Level.yellow_card: policy.yellow_card_after_working_days,
            Level.red_card: policy.red_card_after_working_days,
        }
        for level in steps:
            step = next(s for s in LADDER if s.level is level)
            event = ReferralSupervisionRaisedV1(
                referral_id=referral.id,
                case_no=referral.case_no,
                department=referral.department,
                level=level.value,  # type: ignore[arg-type]
                due_at=row.due_at,
                overdue=overdue_days.get(level, 0),
                stage=_STAGE[row.kind],  # type: ignore[arg-type]
            )
            await self.ctx.emit(
                session,
                event,
                actor,
                deadline_kind=row.kind,
                urged=urged,
                round=referral.round,
                colour=case.colour,
                audience=step.audience.value,
                letter_zh=step.letter_zh,
            )
        top = steps[-1]
        start = await ladder_start_of(session, config, row)
        nxt = None if paused else next_check(config, start, row.due_at, now, top, store.clock_of(row))
        await session.execute(
            update(deadlines)
            .where(deadlines.c.id == row.id)
            .values(supervision_level=top.value, next_check_at=nxt, updated_at=now)
        )
        level = higher(Level(referral.supervision_level), top)
        await session.execute(
            update(referrals)
            .where(referrals.c.id == referral.id)
            .values(supervision_level=level.value, updated_at=now)
        )
