"""Tiered centres (分级调处) and holiday schedules, forwarded to the referral service.

- `POST /api/v1/cases/{case_no}/escalate {reason}` (上报, centre) and
  `POST /api/v1/cases/{case_no}/delegate {to_centre, reason?}` (下派, centre);
- `GET /api/v1/centres`, `GET /api/v1/centres/{centre_id}/cases` (centre, ops): the tree, and what a
  centre sees (its cases and those below it; the district also every red case at once);
- `GET /api/v1/stats/resolution-levels?centre=&category=` (centre, ops): closed cases by the level
  (community, street, district) at which they were finally resolved;
- `POST /api/v1/calendar/schedules {text, source?}` (centre, audited) loads a year's official holiday
  schedule — what `hub calendar load FILE` and the console call; `GET /api/v1/calendar` (centre, ops).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from gateway.routes.referrals import ActorDepartment, ActorRole, forward

router = APIRouter(prefix="/api/v1", tags=["centres"])


class EscalateIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000, description="上报理由 (required)")]


class DelegateIn(BaseModel):
    to_centre: Annotated[str, Field(min_length=6, max_length=12, examples=["150203001001"])]
    reason: Annotated[str, Field(max_length=2000)] | None = None


class ScheduleIn(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=200_000, description="YAML or JSON schedule file")]
    source: Annotated[str, Field(max_length=200)] | None = None


def _case(case_no: str, action: str) -> str:
    return f"/internal/v1/cases/{quote(case_no, safe='')}/{action}"


@router.post(
    "/cases/{case_no}/escalate", summary="上报: escalate the case to the parent centre (reason required)"
)
async def escalate(
    case_no: str,
    body: EscalateIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await forward(
        request,
        "POST",
        _case(case_no, "escalate"),
        x_hub_actor_role,
        x_hub_actor_department,
        json=body.model_dump(mode="json"),
    )


@router.post("/cases/{case_no}/delegate", summary="下派: delegate the case to a centre below")
async def delegate(
    case_no: str,
    body: DelegateIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await forward(
        request,
        "POST",
        _case(case_no, "delegate"),
        x_hub_actor_role,
        x_hub_actor_department,
        json=body.model_dump(mode="json"),
    )


@router.get("/centres", summary="The centre tree: district, street centres, community mediation rooms")
async def centres(
    request: Request, x_hub_actor_role: ActorRole = None, x_hub_actor_department: ActorDepartment = None
) -> Response:
    return await forward(request, "GET", "/internal/v1/centres", x_hub_actor_role, x_hub_actor_department)


@router.get("/centres/{centre_id}/cases", summary="Cases held by the centre or below it (district: all red)")
async def centre_cases(
    centre_id: str,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
    open_only: bool = True,
    colour: Annotated[str | None, Query(max_length=16)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    params: dict[str, Any] = {"open_only": str(open_only).lower(), "page": page, "page_size": page_size}
    if colour:
        params["colour"] = colour
    return await forward(
        request,
        "GET",
        f"/internal/v1/centres/{quote(centre_id, safe='')}/cases",
        x_hub_actor_role,
        x_hub_actor_department,
        params=params,
    )


@router.get("/stats/resolution-levels", summary="Closed cases by the level at which they were resolved")
async def resolution_levels(
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
    centre: Annotated[str | None, Query(max_length=12)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    params = {k: v for k, v in (("centre", centre), ("category", category)) if v}
    return await forward(
        request,
        "GET",
        "/internal/v1/stats/resolution-levels",
        x_hub_actor_role,
        x_hub_actor_department,
        params=params,
    )


@router.post("/calendar/schedules", summary="Load a year's official holiday schedule (audited)")
async def load_schedule(
    body: ScheduleIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await forward(
        request,
        "POST",
        "/internal/v1/calendar/schedules",
        x_hub_actor_role,
        x_hub_actor_department,
        json=body.model_dump(mode="json"),
    )


@router.get("/calendar", summary="Years covered by the working-day calendar; provisional deadlines")
async def calendar_status(
    request: Request, x_hub_actor_role: ActorRole = None, x_hub_actor_department: ActorDepartment = None
) -> Response:
    return await forward(request, "GET", "/internal/v1/calendar", x_hub_actor_role, x_hub_actor_department)
