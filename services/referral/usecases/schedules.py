"""Official holiday schedules (节假日安排) at run time: a year's schedule loaded (audited, kept in the
database so every start and every replica uses it), the deadlines flagged provisional recomputed with it
(each exactly once), schedules another replica loaded picked up, and which years are covered.

A schedule in force is a new configuration swapped in whole (:class:`ConfigHolder`); a load that does
not commit puts the previous one back (RULES.md "Deadlines, in Chinese working days").
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.referral import DeadlinesRecomputedV1, ScheduleLoadedV1
from hub.db import Database
from hub.failpoints import failpoint
from services.referral import store
from services.referral.actors import SYSTEM, Actor
from services.referral.domain.calendar import YearSchedule, business_tz
from services.referral.domain.deadlines import DeadlineKind, recompute
from services.referral.domain.supervision import Level
from services.referral.tables import deadlines, holiday_schedules, referrals
from services.referral.usecases.context import Context
from services.referral.usecases.supervision import ladder_start, next_check

log = logging.getLogger("hub.referral")

# The referral column that mirrors each kind of deadline.
_REFERRAL_COLUMN = {"acknowledge": "ack_due_at", "handling": "due_at", "return_window": "return_until"}


class Schedules:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._marker: tuple[int, datetime | None] | None = None

    async def load(self, session: AsyncSession, schedule: YearSchedule, actor: Actor = SYSTEM) -> int:
        """Use a newly published official schedule from now on (kept in the database, so every start and
        every replica uses it) and recompute the flagged deadlines, each exactly once. Audited."""
        now = self.ctx.clock()
        holidays = sorted(d.isoformat() for d in schedule.holidays)
        workdays = sorted(d.isoformat() for d in schedule.makeup_workdays)
        checksum = hashlib.sha256(
            json.dumps([schedule.year, holidays, workdays], separators=(",", ":")).encode()
        ).hexdigest()
        stored = (
            await session.execute(
                select(holiday_schedules).where(holiday_schedules.c.year == schedule.year).with_for_update()
            )
        ).first()
        values = {
            "source": schedule.source,
            "holidays": holidays,
            "workdays": workdays,
            "checksum": checksum,
            "loaded_at": now,
            "actor_role": actor.role,
        }
        if stored is None:
            await session.execute(holiday_schedules.insert().values(year=schedule.year, **values))
        elif stored.checksum != checksum:
            await session.execute(
                update(holiday_schedules).where(holiday_schedules.c.year == schedule.year).values(**values)
            )
        config = self.ctx.config
        self.ctx.configs.swap(replace(config, calendar=config.calendar.with_schedule(schedule)))
        self.ctx.schedule_loaded(schedule.year)
        changed = await self.recompute_provisional(session, actor)
        self.ctx.metrics.schedules_loaded.inc()
        event = ScheduleLoadedV1(
            year=schedule.year,
            source=schedule.source,
            holidays=len(holidays),
            workdays=len(workdays),
            recomputed=changed,
        )
        await self.ctx.emit(session, event, actor)
        await self.ctx.record(
            session,
            actor,
            "calendar.schedule_loaded",
            None,
            {
                "year": schedule.year,
                "source": schedule.source,
                "checksum": checksum,
                "holidays": len(holidays),
                "workdays": len(workdays),
                "replaced": stored is not None and stored.checksum != checksum,
                "unchanged": stored is not None and stored.checksum == checksum,
                "recomputed": changed,
            },
        )
        failpoint("referral.calendar.before_commit")
        return changed

    async def load_and_commit(self, db: Database, schedule: YearSchedule, actor: Actor) -> int:
        """:meth:`load` in a transaction of its own; if it does not commit, the schedule is not used."""
        before = self.ctx.configs.current
        try:
            async with db.transaction() as session:
                return await self.load(session, schedule, actor)
        except BaseException:
            # Not committed: this process must not go on counting days with a schedule nobody stored.
            self.ctx.configs.swap(before)
            raise

    async def preview(
        self, session: AsyncSession, schedule: YearSchedule, limit: int = 500
    ) -> dict[str, Any]:
        """What :meth:`load` would move, without moving it: each open provisional deadline the schedule
        would recompute, with its due time now and after (nothing written, nothing swapped in)."""
        calendar = self.ctx.config.calendar.with_schedule(schedule)
        rows = (
            await session.execute(
                select(deadlines)
                .where(deadlines.c.provisional.is_(True), deadlines.c.status == "open")
                .order_by(deadlines.c.due_at, deadlines.c.id)
            )
        ).all()
        moved: list[dict[str, Any]] = []
        count = 0
        for row in rows:
            if not all(calendar.covers(y) for y in row.provisional_years or ()):
                continue
            pauses = await store.pauses_of(session, row.referral_id) if row.referral_id else []
            fresh = recompute(store.to_domain(row, pauses), calendar)
            count += 1
            if len(moved) < limit:
                moved.append(
                    {
                        "case_no": row.case_no,
                        "referral_id": row.referral_id,
                        "department": row.department,
                        "kind": row.kind,
                        "due_at_before": row.due_at,
                        "due_at_after": fresh.due_at,
                    }
                )
        return {
            "year": schedule.year,
            "source": schedule.source,
            "holidays": len(schedule.holidays),
            "workdays": len(schedule.makeup_workdays),
            "recomputed": count,
            "deadlines": moved,
        }

    async def use_stored(self, session: AsyncSession) -> list[int]:
        """At start: the schedules loaded at run time (they win over HUB_REFERRAL_SCHEDULES_DIR)."""
        rows = (await session.execute(select(holiday_schedules).order_by(holiday_schedules.c.year))).all()
        config = self.ctx.config
        calendar = config.calendar
        for row in rows:
            calendar = calendar.with_schedule(
                YearSchedule(
                    row.year,
                    frozenset(date.fromisoformat(d) for d in row.holidays),
                    frozenset(date.fromisoformat(d) for d in row.workdays),
                    row.source,
                )
            )
        self.ctx.configs.swap(replace(config, calendar=calendar))
        return [row.year for row in rows]

    async def refresh(self, db: Database) -> bool:
        """Pick up schedules loaded through another replica (cheap: one aggregate over a tiny table)."""
        async with db.sessions() as session:
            count, latest = (
                await session.execute(select(func.count(), func.max(holiday_schedules.c.loaded_at)))
            ).one()
            marker = (int(count), latest)
            if marker == self._marker:
                return False
            await self.use_stored(session)
        self._marker = marker
        return True

    async def view(self, session: AsyncSession) -> dict[str, Any]:
        """Which years are covered and from where, and how many open deadlines are still provisional."""
        year = self.ctx.clock().astimezone(business_tz()).year
        stored = {
            row.year: row
            for row in (
                await session.execute(select(holiday_schedules).order_by(holiday_schedules.c.year))
            ).all()
        }
        provisional = (
            await session.execute(
                select(func.count())
                .select_from(deadlines)
                .where(deadlines.c.provisional.is_(True), deadlines.c.status == "open")
            )
        ).scalar_one()
        years = sorted({year, year + 1, *stored})
        calendar = self.ctx.config.calendar
        return {
            "years": [
                {
                    "year": y,
                    "source": calendar.source_for(y).value,
                    "covered": calendar.covers(y),
                    "loaded_at": stored[y].loaded_at if y in stored else None,
                    "schedule_source": stored[y].source if y in stored else None,
                }
                for y in years
            ],
            "provisional_open_deadlines": int(provisional),
        }

    async def recompute_provisional(self, session: AsyncSession, actor: Actor = SYSTEM) -> int:
        """Recompute every open deadline that was counted on weekends only for a year the calendar now
        knows (RULES.md: "when the schedule arrives, the flagged deadlines are recomputed")."""
        now = self.ctx.clock()
        config = self.ctx.config
        rows = (
            await session.execute(
                select(deadlines)
                .where(deadlines.c.provisional.is_(True), deadlines.c.status == "open")
                .order_by(deadlines.c.id)
                .with_for_update()
            )
        ).all()
        changed = 0
        for row in rows:
            if not all(config.calendar.covers(y) for y in row.provisional_years or ()):
                continue
            pauses = await store.pauses_of(session, row.referral_id) if row.referral_id else []
            fresh = recompute(store.to_domain(row, pauses), config.calendar)
            level = Level(row.supervision_level)
            paused = False
            referral = await store.find_referral(session, row.referral_id) if row.referral_id else None
            if referral is not None and referral.suspended and row.kind == DeadlineKind.handling.value:
                paused = True
            start = ladder_start(config, row.started_at, fresh.clock, fresh.pauses)
            ladder = row.kind in store.LADDER_KINDS and not paused
            await session.execute(
                update(deadlines)
                .where(deadlines.c.id == row.id)
                .values(
                    due_at=fresh.due_at,
                    provisional=fresh.provisional,
                    provisional_years=sorted(fresh.provisional_years),
                    next_check_at=next_check(config, start, fresh.due_at, now, level, fresh.clock)
                    if ladder
                    else row.next_check_at,
                    updated_at=now,
                    **store.external_values(fresh),
                )
            )
            if referral is not None:
                values: dict[str, Any] = {"updated_at": now}
                if row.kind in _REFERRAL_COLUMN:
                    values[_REFERRAL_COLUMN[row.kind]] = fresh.due_at
                still = (
                    await session.execute(
                        select(deadlines.c.id).where(
                            deadlines.c.referral_id == referral.id,
                            deadlines.c.provisional.is_(True),
                            deadlines.c.id != row.id,
                        )
                    )
                ).first()
                values["deadline_provisional"] = bool(still) or fresh.provisional
                await session.execute(update(referrals).where(referrals.c.id == referral.id).values(**values))
                event = DeadlinesRecomputedV1(
                    case_no=row.case_no,
                    referral_id=referral.id,
                    department=referral.department,
                    due_at=fresh.due_at,
                    previous_due_at=row.due_at,
                    year=min(row.provisional_years or [0]),
                )
                await self.ctx.emit(
                    session, event, actor, deadline_kind=row.kind, provisional=fresh.provisional
                )
            self.ctx.metrics.recomputed_deadlines.inc()
            changed += 1
        if changed:
            log.warning("recomputed %d provisional deadline(s) with the official holiday schedule", changed)
        return changed
