"""The worklist behind the gateway (/internal/v1/tasks): follow-ups and weak signals for a centre.

- ``GET /internal/v1/tasks?centre=&include_below=&kind=&status=&page=&page_size=`` (centre, ops): due
  first; ``centre`` a centre's area code (``include_below=true`` adds the centres under it);
- ``GET /internal/v1/tasks/{id}`` (centre, ops);
- ``POST /internal/v1/tasks/{id}/done {note}`` and ``POST /internal/v1/tasks/{id}/snooze {until, note?}``
  (centre): one transaction each — the change, its event (outbox) and the audit entry; a done task
  cannot be acted on again (409 naming the state and the allowed actions).
Ops reads without staff notes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.http.referral import MAX_PAGE, DoneIn, SnoozeIn, TaskOut, TaskPage, TaskResultOut
from hub.problems import Problem
from services.referral import scoping, task_views
from services.referral.actors import Actor
from services.referral.edge import ActorDep, annotate, runtime, use_cases
from services.referral.usecases.worklist import Worklist

router = APIRouter(prefix="/internal/v1/tasks", tags=["tasks"])

Kind = Literal["follow_up", "weak_signal_burst", "repeat_reporter", "grid_visit", "key_person_visit"]
Status = Literal["open", "snoozed", "done"]


def _worklist(request: Request) -> Worklist:
    return use_cases(request).worklist


@router.get("", response_model=TaskPage, summary="A centre's worklist, due first")
async def list_tasks(
    request: Request,
    actor: ActorDep,
    centre: Annotated[str | None, Query(max_length=12, pattern=r"^[0-9]+$")] = None,
    include_below: bool = False,
    kind: Kind | None = None,
    status: Status | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TaskPage:
    actor.require("centre", "ops")
    worklist = _worklist(request)
    tree = worklist.ctx.config.centres
    centres: frozenset[str] | None = None
    if centre is not None:
        # A centre outside the person's subtree is answered as an unknown one.
        if centre not in tree.centres or not scoping.centre_visible(actor, centre):
            raise Problem(
                422,
                "未知中心",
                f"没有编码为 {centre} 的中心（GET /api/v1/centres 列出全部）",
                type_="validation-error",
                errors=[{"field": "centre", "message": f"unknown centre {centre}"}],
            )
        held = tree.centres[centre]
        centres = tree.subtree_ids(held) if include_below else frozenset({centre})
    async with runtime(request).db.sessions() as session:
        return await task_views.list_tasks(
            session,
            tree,
            actor,
            worklist.clock(),
            centres=centres,
            kind=kind,
            status=status,
            page=page,
            page_size=page_size,
            with_notes=actor.role in ("centre", "supervisor"),
        )


@router.get("/{task_id}", response_model=TaskOut, summary="One task with its history")
async def get_task(task_id: str, request: Request, actor: ActorDep) -> TaskOut:
    actor.require("centre", "ops")
    worklist = _worklist(request)
    async with runtime(request).db.sessions() as session:
        row = await worklist.task_or_404(session, task_id, actor)
        return await task_views.task_view(
            session,
            row,
            worklist.ctx.config.centres,
            worklist.clock(),
            with_notes=actor.role in ("centre", "supervisor"),
        )


async def _view(request: Request, session: AsyncSession, task_id: str, actor: Actor) -> TaskResultOut:
    """The task as the action left it, read in the action's own transaction."""
    worklist = _worklist(request)
    row = await worklist.task_or_404(session, task_id, actor)
    task = await task_views.task_view(
        session, row, worklist.ctx.config.centres, worklist.clock(), with_notes=True
    )
    annotate(case_no=task.case_no, task_id=task.id)  # codes only on spans
    return TaskResultOut(task=task)


@router.post("/{task_id}/done", response_model=TaskResultOut, summary="Mark done (audited)")
async def done(task_id: str, body: DoneIn, request: Request, actor: ActorDep) -> TaskResultOut:
    async with runtime(request).db.transaction() as session:
        await _worklist(request).done(session, task_id, body.note, actor)
        return await _view(request, session, task_id, actor)


@router.post("/{task_id}/snooze", response_model=TaskResultOut, summary="Put off until a time (audited)")
async def snooze(task_id: str, body: SnoozeIn, request: Request, actor: ActorDep) -> TaskResultOut:
    async with runtime(request).db.transaction() as session:
        await _worklist(request).snooze(session, task_id, body.until, body.note, actor)
        return await _view(request, session, task_id, actor)
