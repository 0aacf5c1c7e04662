"""Public case endpoints (API.md "Cases")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel

from gateway.timeline import case_timeline, with_gaps
from gateway.upstream import PassThrough, Upstream
from hub.problems import Problem
from hub.runtime import ServiceRuntime

router = APIRouter(prefix="/api/v1", tags=["cases"])


class TimelineEntry(BaseModel):
    at: datetime
    service: str
    event: str
    actor: dict[str, Any]
    detail: dict[str, Any]
    trace_id: str | None
    span_id: str | None
    since_previous_ms: int | None = None  # the wait since the previous handoff (None for the first)
    linked_trace_id: str | None = None  # a handoff in its own trace (a deadline firing): the case's trace


def _upstream(request: Request) -> Upstream:
    up: Upstream = request.app.state.upstream
    return up


@router.post("/cases", status_code=201, summary="Register a case (受理)")
async def post_case(
    request: Request,
    body: Annotated[dict[str, Any], Body(description="API.md: channel, request_type, title, description, …")],
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> Response:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    upstream = await _upstream(request).request(
        "intake", "POST", "/internal/v1/cases", json=body, headers=headers
    )
    return Response(
        upstream.content, status_code=upstream.status_code, media_type=upstream.headers.get("content-type")
    )


@router.get("/cases", summary="Cases newest first: status, colour, category, street_code, overdue filters")
async def list_cases(
    request: Request,
    status: Annotated[
        str | None, Query(max_length=32, description="registered, dispatched, … closed")
    ] = None,
    colour: Annotated[str | None, Query(max_length=16, description="red | orange | yellow | blue")] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    street_code: Annotated[
        str | None, Query(max_length=12, pattern=r"^[0-9]+$", description="a street code or its prefix")
    ] = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    params = {
        key: value
        for key, value in {
            "status": status,
            "colour": colour,
            "category": category,
            "street_code": street_code,
            "overdue": None if overdue is None else str(overdue).lower(),
            "page": page,
            "page_size": page_size,
        }.items()
        if value is not None
    }
    return await _upstream(request).json("referral", "GET", "/internal/v1/cases", params=params)


@router.get("/cases/{case_no}", summary="A case with its referrals, deadlines and supervision level")
async def get_case(case_no: str, request: Request) -> dict[str, Any]:
    up = _upstream(request)
    try:
        case = await up.json("intake", "GET", f"/internal/v1/cases/{case_no}")
    except PassThrough as exc:
        if exc.response.status_code == 404:
            raise Problem(
                404, "未找到该事项", f"没有编号为 {case_no} 的事项", type_="case-not-found"
            ) from None
        raise
    try:
        state = await up.json("referral", "GET", f"/internal/v1/cases/{case_no}")
    except PassThrough as exc:
        if exc.response.status_code != 404:
            raise
        state = None  # registered, not yet seen by referral: the event is on its way
    if state:
        case["status"] = state["status"]
        case["referrals"] = state["referrals"]
        case["manual_reason"] = state.get("manual_reason")
        # Provisional deadlines (a year without an official schedule) and the tiered centre holding it.
        for key in ("provisional", "centre_id", "centre_level", "resolved_level", "close_reason"):
            if key in state:
                case.setdefault(key, state[key])
        # The channel's limit in force (12345's 办理时限 moves when it approves an extension); intake
        # keeps the one the case was registered with.
        if state.get("due_by"):
            case["due_by"] = state["due_by"]
        for key in ("channel_return_code", "channel_return_reason"):
            if state.get(key):
                case[key] = state[key]
    else:
        case["referrals"] = []
    return case


@router.get(
    "/cases/{case_no}/timeline", response_model=list[TimelineEntry], summary="Every handoff, oldest first"
)
async def get_timeline(case_no: str, request: Request) -> list[TimelineEntry]:
    rt: ServiceRuntime = request.app.state.runtime
    async with rt.db.sessions() as session:
        rows = await case_timeline(session, case_no)
    if not rows:
        raise Problem(404, "未找到该事项", f"没有编号为 {case_no} 的事项记录", type_="case-not-found")
    return [TimelineEntry.model_validate(e) for e in with_gaps(rows)]
