"""Grid workers' routes behind the gateway (issue 18; services/referral/usecases/grid.py):

- ``GET /internal/v1/grid/tasks?status=open|done|all&limit=`` (grid_worker): the tasks of the worker's
  grid, nearest due first;
- ``GET /internal/v1/grid/tasks/{id}`` (grid_worker): one of them, with its visits;
- ``POST /internal/v1/grid/tasks/{id}/visit`` (grid_worker): on-site check-in (audited);
- ``POST /internal/v1/cases/{case_no}/grid-tasks {grid, note?, due_at?}`` (centre): send a case to a grid
  for an on-site check (201; 200 with the open one when it was sent already);
- ``GET /internal/v1/grids`` (centre, ops, grid_worker): the grids the caller's scope holds.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import select

from hub.contracts.http.grid import GridTaskIn, GridTaskOut, GridTaskPage, VisitIn
from services.referral import scoping
from services.referral.edge import ActorDep, annotate, runtime, use_cases
from services.referral.tables import tasks
from services.referral.usecases.grid import GridWork

router = APIRouter(prefix="/internal/v1", tags=["grid"])


class GridOut(BaseModel):
    code: str
    community: str
    community_name: str | None
    name_zh: str


def _work(request: Request) -> GridWork:
    uc = use_cases(request)
    hours: float = getattr(request.app.state, "grid_visit_hours", 24)
    return GridWork(uc.context, uc.worklist, visit_hours=hours)


@router.get(
    "/grid/tasks", response_model=GridTaskPage, summary="The worker's grid's tasks, nearest due first"
)
async def grid_tasks(
    request: Request,
    actor: ActorDep,
    status: Literal["open", "done", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> GridTaskPage:
    work = _work(request)
    async with runtime(request).db.sessions() as session:
        return await work.grid_tasks(session, actor, status, limit)


@router.get("/grid/tasks/{task_id}", response_model=GridTaskOut, summary="One task of the worker's grid")
async def grid_task(task_id: str, request: Request, actor: ActorDep) -> GridTaskOut:
    work = _work(request)
    async with runtime(request).db.sessions() as session:
        return await work.one(session, task_id, actor)


@router.post("/grid/tasks/{task_id}/visit", response_model=GridTaskOut, summary="On-site check-in (audited)")
async def visit(task_id: str, body: VisitIn, request: Request, actor: ActorDep) -> GridTaskOut:
    work = _work(request)
    async with runtime(request).db.transaction() as session:
        out = await work.visit(session, task_id, body, actor)
    annotate(case_no=out.case_no, task_id=task_id)  # codes only on spans
    return out


@router.post(
    "/cases/{case_no}/grid-tasks",
    status_code=201,
    response_model=GridTaskOut,
    summary="Send a case to a grid for an on-site check (交办网格核查)",
)
async def dispatch_to_grid(
    case_no: str, body: GridTaskIn, request: Request, response: Response, actor: ActorDep
) -> GridTaskOut:
    work = _work(request)
    async with runtime(request).db.transaction() as session:
        task_id, created = await work.dispatch(session, case_no, body, actor)
        row = (await session.execute(select(tasks).where(tasks.c.id == task_id))).one()
        notes = await work.instructions(session, [task_id])
        out = GridWork._out(row, work.ctx.clock(), [], notes.get(task_id))
    if not created:
        response.status_code = 200
    annotate(case_no=case_no, task_id=task_id)
    return out


@router.get("/grids", response_model=list[GridOut], summary="The grids in the caller's scope")
async def grids(request: Request, actor: ActorDep) -> list[GridOut]:
    actor.require("centre", "ops", "grid_worker")
    config = use_cases(request).context.config
    tree = config.centres
    out = []
    for grid in config.grid_registry.grids.values():
        if actor.role == "grid_worker" and grid.code != actor.grid:
            continue
        if not scoping.centre_visible(actor, grid.community):
            continue
        community = tree.centres.get(grid.community)
        out.append(
            GridOut(
                code=grid.code,
                community=grid.community,
                community_name=community.name_zh if community else None,
                name_zh=grid.name_zh,
            )
        )
    return out
