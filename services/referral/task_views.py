"""Reading the worklist as the HTTP interface answers it (the models: hub/contracts/http/referral.py).

The status shown is the effective one: a snoozed task whose `until` has passed is `open`. Ordered
due first: by coalesce(snoozed_until, due_at), so a task back from a snooze is due at its `until`.
Staff notes are shown to the centre only; ops (read-only) gets the rest without them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.http.referral import TaskActionOut, TaskOut, TaskPage
from services.referral import scoping
from services.referral.actors import Actor
from services.referral.domain.centres import CentreTree
from services.referral.domain.tasks import TASK_MACHINE, TaskKind, TaskState, effective_status
from services.referral.tables import signal_sightings, task_actions, tasks


def _status_filter(status: str, now: datetime) -> ColumnElement[bool]:
    snoozed = tasks.c.status == TaskState.snoozed.value
    if status == TaskState.open.value:
        return or_(tasks.c.status == TaskState.open.value, and_(snoozed, tasks.c.snoozed_until <= now))
    if status == TaskState.snoozed.value:
        return and_(snoozed, tasks.c.snoozed_until > now)
    return tasks.c.status == status


async def list_tasks(
    session: AsyncSession,
    tree: CentreTree,
    actor: Actor,
    now: datetime,
    *,
    centres: frozenset[str] | None,
    kind: str | None,
    status: str | None,
    page: int,
    page_size: int,
    with_notes: bool,
) -> TaskPage:
    conditions: list[ColumnElement[bool]] = [scoping.tasks_visible(actor)]
    if centres is not None:
        conditions.append(tasks.c.centre_id.in_(sorted(centres)))
    if kind:
        conditions.append(tasks.c.kind == kind)
    if status:
        conditions.append(_status_filter(status, now))
    total = (await session.execute(select(func.count()).select_from(tasks).where(*conditions))).scalar_one()
    rows = list(
        await session.execute(
            select(tasks)
            .where(*conditions)
            .order_by(func.coalesce(tasks.c.snoozed_until, tasks.c.due_at), tasks.c.created_at, tasks.c.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    )
    ids = [r.id for r in rows]
    history = await _history(session, ids, with_notes)
    held = await _held_cases(session, ids)
    return TaskPage(
        now=now,
        total=total,
        page=page,
        page_size=page_size,
        items=[task_out(r, tree, now, history.get(r.id, []), held.get(r.id, [])) for r in rows],
    )


async def task_view(
    session: AsyncSession, row: Row[Any], tree: CentreTree, now: datetime, *, with_notes: bool
) -> TaskOut:
    history = await _history(session, [row.id], with_notes)
    held = await _held_cases(session, [row.id])
    return task_out(row, tree, now, history.get(row.id, []), held.get(row.id, []))


async def _history(
    session: AsyncSession, task_ids: list[str], with_notes: bool
) -> dict[str, list[TaskActionOut]]:
    found: dict[str, list[TaskActionOut]] = defaultdict(list)
    if not task_ids:
        return found
    rows = await session.execute(
        select(task_actions)
        .where(task_actions.c.task_id.in_(task_ids))
        .order_by(task_actions.c.at, task_actions.c.id)
    )
    for r in rows:
        found[r.task_id].append(
            TaskActionOut(
                action=r.action,
                at=r.at,
                actor_role=r.actor_role,
                actor_id=r.actor_id,
                note=r.note if with_notes else None,
                until=r.until,
            )
        )
    return found


async def _held_cases(session: AsyncSession, task_ids: list[str]) -> dict[str, list[str]]:
    """A weak signal's cases, oldest first: the sightings that name the task (grid, street or reporter)."""
    found: dict[str, list[str]] = defaultdict(list)
    if not task_ids:
        return found
    s = signal_sightings
    holders = (s.c.grid_task_id, s.c.street_task_id, s.c.reporter_task_id)
    rows = await session.execute(
        select(s.c.case_no, *holders)
        .where(or_(*(h.in_(task_ids) for h in holders)))
        .order_by(s.c.registered_at, s.c.case_no)
    )
    wanted = set(task_ids)
    for r in rows:
        for task_id in {r.grid_task_id, r.street_task_id, r.reporter_task_id} & wanted:
            found[task_id].append(r.case_no)
    return found


def task_out(
    row: Row[Any], tree: CentreTree, now: datetime, history: list[TaskActionOut], held: list[str]
) -> TaskOut:
    status = effective_status(row.status, row.snoozed_until, now)
    centre = tree.centres.get(row.centre_id)
    return TaskOut(
        id=row.id,
        kind=row.kind,
        title=TaskKind(row.kind).label_zh,
        status=status.value,
        centre_id=row.centre_id,
        centre_name=centre.name_zh if centre else None,
        case_no=row.case_no,
        # A key person's visit has no case (its case_no holds the registry entry).
        case_nos=held or ([] if row.kind == TaskKind.key_person_visit else [row.case_no]),
        case_count=row.case_count,
        category=row.category,
        colour=row.colour,
        cadence=row.cadence,
        sequence=row.sequence,
        scope=row.scope,
        area=row.area,
        reporter_key=row.reporter_key,
        window_start=row.window_start,
        window_end=row.window_end,
        due_at=row.due_at,
        grid=row.grid,
        key_person_id=row.key_person_id,
        snoozed_until=row.snoozed_until,
        done_at=row.done_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        allowed_actions=[a.value for a in TASK_MACHINE.allowed_actions(status)],
        history=history,
    )
