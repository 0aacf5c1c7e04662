"""The worklist (待办, issue 12), forwarded to the referral service, which owns tasks.

- `GET /api/v1/tasks?centre=&include_below=&kind=&status=&page=&page_size=` (centre, ops): a centre's
  tasks, due first — follow-ups that fell due (三色回访) and weak signals (弱信号: a burst of one
  category in one grid or street, a repeat reporter);
- `GET /api/v1/tasks/{task_id}` (centre, ops) with its history;
- `POST /api/v1/tasks/{task_id}/done {note}` and `POST /api/v1/tasks/{task_id}/snooze {until, note?}`
  (centre): audited with the API client that acted; 409 when the task is done already.
Ops reads without staff notes (no personal data).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from gateway.routes.referrals import ActorDepartment, ActorRole, forward

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])

ActorId = Annotated[
    str | None,
    Header(max_length=64, pattern=r"^[\w.@:\-]+$", description="Set by the gateway from the token"),
]


class DoneIn(BaseModel):
    note: Annotated[str, Field(min_length=1, max_length=2000, description="what was done (办理情况)")]


class SnoozeIn(BaseModel):
    until: AwareDatetime = Field(description="back in the open worklist from then (with a time zone)")
    note: Annotated[str, Field(max_length=2000)] | None = None


def _task(task_id: str, action: str = "") -> str:
    return f"/internal/v1/tasks/{quote(task_id, safe='')}" + (f"/{action}" if action else "")


@router.get("", summary="A centre's worklist (待办), due first: follow-ups and weak signals")
async def list_tasks(
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
    centre: Annotated[str | None, Query(max_length=12, pattern=r"^[0-9]+$")] = None,
    include_below: bool = False,
    kind: Literal["follow_up", "weak_signal_burst", "repeat_reporter"] | None = None,
    status: Literal["open", "snoozed", "done"] | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    params: dict[str, Any] = {
        "page": page,
        "page_size": page_size,
        "include_below": str(include_below).lower(),
    }
    for key, value in (("centre", centre), ("kind", kind), ("status", status)):
        if value:
            params[key] = value
    return await forward(
        request, "GET", "/internal/v1/tasks", x_hub_actor_role, x_hub_actor_department, params=params
    )


@router.get("/{task_id}", summary="One task with its history")
async def get_task(
    task_id: str,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await forward(request, "GET", _task(task_id), x_hub_actor_role, x_hub_actor_department)


@router.post("/{task_id}/done", summary="Mark a task done, with a note (audited)")
async def done(
    task_id: str,
    body: DoneIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
    x_hub_actor_id: ActorId = None,
) -> Response:
    return await forward(
        request,
        "POST",
        _task(task_id, "done"),
        x_hub_actor_role,
        x_hub_actor_department,
        json=body.model_dump(mode="json"),
        actor_id=x_hub_actor_id,
    )


@router.post("/{task_id}/snooze", summary="Put a task off until a time (audited); it comes back open then")
async def snooze(
    task_id: str,
    body: SnoozeIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
    x_hub_actor_id: ActorId = None,
) -> Response:
    return await forward(
        request,
        "POST",
        _task(task_id, "snooze"),
        x_hub_actor_role,
        x_hub_actor_department,
        json=body.model_dump(mode="json"),
        actor_id=x_hub_actor_id,
    )
