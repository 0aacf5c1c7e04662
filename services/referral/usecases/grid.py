"""Grid workers' tasks (网格员, issue 18; docs/decisions/0024-grid-workers.md).

- The centre sends a case to a grid for an on-site check (交办网格核查): a ``grid_visit`` task on the
  worklist of the grid's community, carrying the grid, due in ``HUB_REFERRAL_GRID_VISIT_HOURS`` unless
  the centre says when. Sent again while one is open for the same case and grid, it is that one.
- The grid's worker lists every task whose ``grid`` is theirs, whatever its kind (grid visits,
  follow-ups of cases reported in the grid, key persons' visits), nearest due first.
- The worker checks in on site (现场签到): when, the point, the outcome and a note (phone and ID numbers
  masked). Any outcome but ``unreachable`` (nobody met: the task stays open) makes the task done. One
  transaction: the visit, the task's change and history, ``referral.task_visited.v1`` (the case
  timeline) and the audit entry naming the person.
A task or case outside the worker's grid is not found (404), as everywhere (decision 0013).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import scope
from hub.contracts.grid import TaskVisitedV1
from hub.contracts.http.grid import GridTaskIn, GridTaskOut, GridTaskPage, VisitIn, VisitOut
from services.referral import scoping
from services.referral.actors import Actor
from services.referral.domain.centres import redact_reason
from services.referral.domain.grids import Grid
from services.referral.domain.tasks import TASK_MACHINE, TaskAction, TaskKind, TaskState, effective_status
from services.referral.errors import Forbidden, InvalidRequest, field_error
from services.referral.tables import grid_visits, task_actions, tasks
from services.referral.usecases.context import Context
from services.referral.usecases.worklist import Worklist

FUTURE_TOLERANCE = timedelta(minutes=5)  # the phone's clock against the hub's
LATE_CHECK_IN = timedelta(days=7)  # a check-in kept on a phone offline is accepted this long after
OPEN_ENOUGH = ("open", "snoozed")


def title_of(kind: str) -> str:
    try:
        return TaskKind(kind).label_zh
    except ValueError:  # a kind another part of the hub adds (a key person's visit)
        return kind


class GridWork:
    def __init__(self, ctx: Context, worklist: Worklist, *, visit_hours: float = 24) -> None:
        self.ctx = ctx
        self.worklist = worklist
        self.visit_hours = visit_hours

    def worker_grid(self, actor: Actor) -> Grid:
        """The grid a grid worker is bound to, as grids.yaml knows it under their community."""
        actor.require("grid_worker")
        grid = self.ctx.config.grid_registry.get(actor.grid)
        if grid is None or (actor.centre is not None and not scope.contains(actor.centre, grid.community)):
            raise Forbidden(
                "未知网格", f"账号绑定的网格 {actor.grid or '（无）'} 不在本社区的网格清单中（grids.yaml）"
            )
        return grid

    # --- the centre sends a case to a grid ------------------------------------------------------------

    async def dispatch(
        self, session: AsyncSession, case_no: str, body: GridTaskIn, actor: Actor
    ) -> tuple[str, bool]:
        """The grid visit task's id, and whether it is new."""
        actor.require("centre")
        case = await self.ctx.load_case(session, case_no, actor)
        grid = self.ctx.config.grid_registry.get(body.grid)
        holding = case.centre_id or actor.centre
        if grid is None or not scoping.centre_visible(actor, grid.community):
            raise InvalidRequest(
                "未知网格", f"没有编码为 {body.grid} 的网格", errors=[field_error("grid", "unknown grid")]
            )
        if holding is not None and not scope.contains(holding, grid.community):
            raise InvalidRequest(
                "网格不在辖区内",
                f"网格 {grid.code} 不在事项所属中心 {holding} 的辖区内",
                errors=[field_error("grid", "the grid lies outside the centre holding the case")],
            )
        existing = (
            await session.execute(
                select(tasks.c.id).where(
                    tasks.c.case_no == case_no,
                    tasks.c.kind == TaskKind.grid_visit.value,
                    tasks.c.grid == grid.code,
                    tasks.c.status.in_(OPEN_ENOUGH),
                )
            )
        ).scalar()
        if existing is not None:
            return existing, False
        now = self.ctx.clock()
        due = body.due_at or now + timedelta(hours=self.visit_hours)
        if due <= now:
            raise InvalidRequest(
                "期限不正确", "核查期限须晚于现在", errors=[field_error("due_at", "must lie ahead")]
            )
        task_id = await self.worklist.create(
            session,
            kind=TaskKind.grid_visit,
            dedup_key=f"grid_visit:{case_no}:{grid.code}:{uuid.uuid4().hex[:12]}",
            centre=self.ctx.config.centres.get(grid.community),
            case_no=case_no,
            case_count=1,
            due_at=due,
            actor=actor,
            category=case.category,
            colour=case.colour,
            grid=grid.code,
        )
        assert task_id is not None  # a fresh dedup key
        note = redact_reason(body.note)
        await session.execute(  # the instructions, on the task's history beside its creation
            update(task_actions)
            .where(task_actions.c.task_id == task_id, task_actions.c.action == "created")
            .values(note=note)
        )
        detail = {"task_id": task_id, "grid": grid.code, "due_at": due.isoformat(), "note": note}
        await self.ctx.record(session, actor, "task.grid_dispatched", case_no, detail)
        return task_id, True

    # --- the grid worker ------------------------------------------------------------------------------

    async def grid_tasks(self, session: AsyncSession, actor: Actor, status: str, limit: int) -> GridTaskPage:
        grid = self.worker_grid(actor)
        now = self.ctx.clock()
        due = func.coalesce(tasks.c.snoozed_until, tasks.c.due_at)
        query = select(tasks).where(scoping.tasks_visible(actor), tasks.c.grid == grid.code)
        if status == "open":
            query = query.where(tasks.c.status.in_(OPEN_ENOUGH))
        elif status == "done":
            query = query.where(tasks.c.status == TaskState.done.value)
        rows = (await session.execute(query.order_by(due, tasks.c.id).limit(limit))).all()
        ids = [r.id for r in rows]
        visits, notes = await self._visits(session, ids), await self.instructions(session, ids)
        items = [self._out(r, now, visits.get(r.id, []), notes.get(r.id)) for r in rows]
        return GridTaskPage(now=now, grid=grid.code, items=items)

    async def one(self, session: AsyncSession, task_id: str, actor: Actor) -> GridTaskOut:
        """One task of the worker's grid with its visits; another grid's is not found."""
        self.worker_grid(actor)
        row = await self.worklist.task_or_404(session, task_id, actor)
        visits, notes = await self._visits(session, [task_id]), await self.instructions(session, [task_id])
        return self._out(row, self.ctx.clock(), visits.get(task_id, []), notes.get(task_id))

    async def visit(self, session: AsyncSession, task_id: str, body: VisitIn, actor: Actor) -> GridTaskOut:
        grid = self.worker_grid(actor)
        row = await self.worklist.task_or_404(session, task_id, actor, lock=True)
        now = self.ctx.clock()
        current = effective_status(row.status, row.snoozed_until, now)
        target = TASK_MACHINE.apply(current, TaskAction.done)  # a done task: 409 naming its state
        if not now - LATE_CHECK_IN <= body.visited_at <= now + FUTURE_TOLERANCE:
            raise InvalidRequest(
                "签到时间不正确",
                "签到时间不能晚于现在，也不能早于 7 天前",
                errors=[field_error("visited_at", "not in the last 7 days")],
            )
        note = redact_reason(body.note)
        stays_open = body.outcome == "unreachable"
        status = current if stays_open else target
        await session.execute(
            grid_visits.insert().values(
                task_id=task_id,
                case_no=row.case_no,
                grid=grid.code,
                actor_id=actor.id,
                visited_at=body.visited_at,
                latitude=body.point.latitude,
                longitude=body.point.longitude,
                accuracy_m=body.point.accuracy_m,
                outcome=body.outcome,
                note=note,
                recorded_at=now,
            )
        )
        if not stays_open:
            await session.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(status=TaskState.done.value, done_at=now, updated_at=now)
            )
        await session.execute(
            task_actions.insert().values(
                task_id=task_id,
                action="visited" if stays_open else TaskState.done.value,
                at=now,
                actor_role=actor.role,
                actor_id=actor.id,
                note=note,
            )
        )
        event = TaskVisitedV1(
            task_id=task_id,
            kind=row.kind,
            grid=grid.code,
            centre_id=row.centre_id,
            case_no=row.case_no,
            outcome=body.outcome,
            status=status.value,
            visited_at=body.visited_at,
            person_id=actor.id,
        )
        await self.ctx.emit(session, event, actor)
        detail = {
            "task_id": task_id,
            "kind": row.kind,
            "grid": grid.code,
            "outcome": body.outcome,
            "visited_at": body.visited_at.isoformat(),
            "point": [body.point.latitude, body.point.longitude],
            "from": current.value,
            "to": status.value,
            "note": note,
        }
        await self.ctx.record(session, actor, "task.visited", row.case_no, detail)  # last
        fresh = (await session.execute(select(tasks).where(tasks.c.id == task_id))).one()
        visits, notes = await self._visits(session, [task_id]), await self.instructions(session, [task_id])
        return self._out(fresh, now, visits.get(task_id, []), notes.get(task_id))

    async def instructions(self, session: AsyncSession, task_ids: list[str]) -> dict[str, str]:
        """The centre's 交办说明 of each task that has one (the note of its creation)."""
        if not task_ids:
            return {}
        rows = await session.execute(
            select(task_actions.c.task_id, task_actions.c.note).where(
                task_actions.c.task_id.in_(task_ids),
                task_actions.c.action == "created",
                task_actions.c.note.is_not(None),
            )
        )
        return {r.task_id: r.note for r in rows}

    async def _visits(self, session: AsyncSession, task_ids: list[str]) -> dict[str, list[VisitOut]]:
        found: dict[str, list[VisitOut]] = {}
        if not task_ids:
            return found
        rows = await session.execute(
            select(grid_visits).where(grid_visits.c.task_id.in_(task_ids)).order_by(grid_visits.c.id)
        )
        for v in rows:
            found.setdefault(v.task_id, []).append(
                VisitOut(
                    id=v.id,
                    visited_at=v.visited_at,
                    outcome=v.outcome,
                    latitude=v.latitude,
                    longitude=v.longitude,
                    recorded_at=v.recorded_at,
                )
            )
        return found

    @staticmethod
    def _out(row: Any, now: datetime, visits: list[VisitOut], instructions: str | None = None) -> GridTaskOut:
        status = effective_status(row.status, row.snoozed_until, now)
        due = row.snoozed_until if status is TaskState.snoozed and row.snoozed_until else row.due_at
        return GridTaskOut(
            id=row.id,
            kind=row.kind,
            title=title_of(row.kind),
            status=status.value,
            grid=row.grid,
            centre_id=row.centre_id,
            case_no=row.case_no,
            category=row.category,
            colour=row.colour,
            due_at=due,
            overdue=status is not TaskState.done and due < now,
            created_at=row.created_at,
            instructions=instructions,
            visits=visits,
        )
