"""Visits to key persons and households (重点人员 / 七色户卡, issue 18): the schedule by colour.

Intake keeps the registry and says each change as ``key_person.follow_up.v1`` (colour, its cadence
in working days, centre, grid; never personal data). Referral keeps the schedule and the worklist:

- a new entry gets its first visit, a ``key_person_visit`` task for the person's centre and grid,
  due ``every`` working days after now on the working-day calendar (holidays and 调休 make-up days
  counted as the statutory calendar says);
- a visit marked done (``POST /api/v1/tasks/{id}/done``) raises the next, due ``every`` working days
  after it was done, in the same transaction;
- a new colour (or grid, or centre) moves the open visit: due ``every`` working days (of the new
  colour) after the last visit (or after the open one was raised), and to the new grid and centre;
- a closed entry gets no further visit (the open one stays until done).

A late or repeated event (a version not newer than the one applied) changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.intake import KeyPersonFollowUpV1
from services.referral.domain.centres import Centre
from services.referral.domain.tasks import TaskKind, TaskState
from services.referral.tables import key_person_schedules, tasks
from services.referral.usecases.context import Context
from services.referral.usecases.worklist import Worklist

KIND = TaskKind.key_person_visit


def cadence_code(every_working_days: int) -> str:
    """What the task's `cadence` says: "5_working_days"."""
    return f"{every_working_days}_working_days"


class KeyPersonVisits:
    def __init__(self, ctx: Context, worklist: Worklist) -> None:
        self.ctx = ctx
        self.worklist = worklist
        worklist.after_done[KIND] = self.visit_done

    def due(self, start: datetime, every_working_days: int) -> datetime:
        """``every`` working days after ``start`` on the working-day calendar."""
        return self.ctx.config.calendar.add_working_days(start, every_working_days).due

    def _centre(self, centre_id: str) -> Centre:
        tree = self.ctx.config.centres
        return tree.centres.get(centre_id) or tree.home_for(centre_id) or tree.roots[0]

    async def schedule_changed(self, session: AsyncSession, event: KeyPersonFollowUpV1) -> None:
        now = self.ctx.clock()
        s = key_person_schedules
        current = (
            await session.execute(select(s).where(s.c.key_person_id == event.key_person_id).with_for_update())
        ).first()
        if current is not None and current.version >= event.version:
            return  # late or repeated: a newer change is applied already
        values = {
            "version": event.version,
            "colour": event.colour,
            "colour_name_zh": event.colour_name_zh,
            "every_working_days": event.visit_every_working_days,
            "centre_id": event.centre_id,
            "grid_code": event.grid_code,
            "active": event.active,
            "updated_at": now,
        }
        if current is None:
            await session.execute(s.insert().values(key_person_id=event.key_person_id, **values))
        else:
            await session.execute(update(s).where(s.c.key_person_id == event.key_person_id).values(**values))
        if not event.active:
            return
        open_visit = (
            await session.execute(
                select(tasks)
                .where(
                    tasks.c.kind == KIND.value,
                    tasks.c.key_person_id == event.key_person_id,
                    tasks.c.status != TaskState.done.value,
                )
                .order_by(tasks.c.sequence.desc())
                .limit(1)
            )
        ).first()
        last_done = await self._last_done(session, event.key_person_id)
        if open_visit is None:
            sequence = await self._last_sequence(session, event.key_person_id) + 1
            await self._raise(session, event.key_person_id, values, sequence, start=last_done or now)
            return
        start = last_done or open_visit.created_at
        centre = self._centre(event.centre_id)
        await session.execute(
            update(tasks)
            .where(tasks.c.id == open_visit.id)
            .values(
                due_at=self.due(start, event.visit_every_working_days),
                colour=event.colour,
                cadence=cadence_code(event.visit_every_working_days),
                grid=event.grid_code,
                centre_id=centre.id,
                updated_at=now,
            )
        )

    async def visit_done(self, session: AsyncSession, task: Row[Any], now: datetime) -> None:
        """The visit was made: the next one, ``every`` working days from now (none for a closed entry)."""
        schedule = (
            await session.execute(
                select(key_person_schedules).where(key_person_schedules.c.key_person_id == task.key_person_id)
            )
        ).first()
        if schedule is None or not schedule.active:
            return
        values = dict(schedule._mapping)
        await self._raise(session, task.key_person_id, values, (task.sequence or 0) + 1, start=now)

    async def _raise(
        self,
        session: AsyncSession,
        key_person_id: str,
        schedule: dict[str, Any],
        sequence: int,
        *,
        start: datetime,
    ) -> str | None:
        every = int(schedule["every_working_days"])
        return await self.worklist.create(
            session,
            kind=KIND,
            dedup_key=f"key_person_visit:{key_person_id}:{sequence}",
            centre=self._centre(schedule["centre_id"]),
            case_no=key_person_id,  # no case: the task's subject is the registry entry
            case_count=0,
            due_at=self.due(start, every),
            colour=schedule["colour"],
            cadence=cadence_code(every),
            sequence=sequence,
            grid=schedule["grid_code"],
            key_person_id=key_person_id,
        )

    async def _last_done(self, session: AsyncSession, key_person_id: str) -> datetime | None:
        done: datetime | None = (
            await session.execute(
                select(func.max(tasks.c.done_at)).where(
                    tasks.c.kind == KIND.value, tasks.c.key_person_id == key_person_id
                )
            )
        ).scalar_one_or_none()
        return done

    async def _last_sequence(self, session: AsyncSession, key_person_id: str) -> int:
        last = (
            await session.execute(
                select(func.max(tasks.c.sequence)).where(
                    tasks.c.kind == KIND.value, tasks.c.key_person_id == key_person_id
                )
            )
        ).scalar_one_or_none()
        return int(last or 0)
