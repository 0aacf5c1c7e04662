"""Public referral endpoints (API.md "Referrals (department side)"), forwarded to the referral service.

Who is calling travels as `X-Hub-Actor-Role` / `X-Hub-Actor-Department` (until authentication lands
they are taken from the incoming request; the role defaults to centre). The referral service enforces
department scoping: another department's referral is 404.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import BaseModel, Field

from gateway.upstream import Upstream

router = APIRouter(prefix="/api/v1", tags=["referrals"])

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class ReturnIn(BaseModel):
    reason_code: Literal["not_our_duty", "wrong_area", "insufficient_info", "duplicate", "other"]
    reason: Text


class ExtensionIn(BaseModel):
    working_days: int = Field(
        ge=1, le=365, description="In the procedure's unit: working days (135), calendar days (信访)"
    )
    reason: Text


class DecisionIn(BaseModel):
    approved: bool
    note: Annotated[str, Field(max_length=2000)] | None = None


class ReplyIn(BaseModel):
    outcome: Literal["resolved", "mediated", "partially_resolved", "unresolved", "referred_to_litigation"]
    summary: Annotated[str, Field(min_length=1, max_length=4000)]


class SuspendIn(BaseModel):
    reason: Text


def actor_headers(role: str | None, department: str | None, actor_id: str | None = None) -> dict[str, str]:
    """The headers that tell the referral service who acts (role defaults to centre) and, where it is
    audited by client, which API client."""
    headers = {"X-Hub-Actor-Role": role or "centre"}
    if department:
        headers["X-Hub-Actor-Department"] = department
    if actor_id:
        headers["X-Hub-Actor-Id"] = actor_id
    return headers


ActorRole = Annotated[
    str | None, Header(max_length=32, description="centre | department | adapter | ops (default centre)")
]
ActorDepartment = Annotated[
    str | None, Header(max_length=100, description="The calling department's unit code")
]


async def forward(
    request: Request,
    method: str,
    path: str,
    role: str | None,
    department: str | None,
    *,
    json: Any = None,
    params: dict[str, Any] | None = None,
    actor_id: str | None = None,
) -> Response:
    upstream: Upstream = request.app.state.upstream
    answer = await upstream.request(
        "referral", method, path, json=json, params=params, headers=actor_headers(role, department, actor_id)
    )
    return Response(
        answer.content, status_code=answer.status_code, media_type=answer.headers.get("content-type")
    )


def _path(referral_id: str, action: str = "") -> str:
    return f"/internal/v1/referrals/{quote(referral_id, safe='')}" + (f"/{action}" if action else "")


@router.get("/referrals", summary="The caller's department's referrals (centre: all)")
async def list_referrals(
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    overdue: bool | None = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
    case_no: Annotated[str | None, Query(max_length=32)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    params: dict[str, Any] = {"page": page, "page_size": page_size}
    for key, value in (("status", status), ("department", department), ("case_no", case_no)):
        if value:
            params[key] = value
    if overdue is not None:
        params["overdue"] = str(overdue).lower()
    return await forward(
        request, "GET", "/internal/v1/referrals", x_hub_actor_role, x_hub_actor_department, params=params
    )


@router.get("/referrals/{referral_id}", summary="One referral with its deadlines and supervision level")
async def get_referral(
    referral_id: str,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await forward(request, "GET", _path(referral_id), x_hub_actor_role, x_hub_actor_department)


@router.post("/referrals/{referral_id}/acknowledge", summary="报到/签收")
async def acknowledge(
    referral_id: str,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await forward(
        request, "POST", _path(referral_id, "acknowledge"), x_hub_actor_role, x_hub_actor_department
    )


@router.post("/referrals/{referral_id}/start", summary="Start work (报到后开始办理)")
async def start(
    referral_id: str,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await forward(
        request, "POST", _path(referral_id, "start"), x_hub_actor_role, x_hub_actor_department
    )


@router.post("/referrals/{referral_id}/return", summary="退回, with a coded reason, within 2 working days")
async def return_referral(
    referral_id: str,
    body: ReturnIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await forward(
        request,
        "POST",
        _path(referral_id, "return"),
        x_hub_actor_role,
        x_hub_actor_department,
        json=body.model_dump(mode="json"),
    )


@router.post("/referrals/{referral_id}/extension", summary="Ask for an extension (延期申请)")
async def request_extension(
    referral_id: str,
    body: ExtensionIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await forward(
        request,
        "POST",
        _path(referral_id, "extension"),
        x_hub_actor_role,
        x_hub_actor_department,
        json=body.model_dump(mode="json"),
    )


@router.post("/referrals/{referral_id}/extension/decision", summary="Centre: approve or deny an extension")
async def decide_extension(
    referral_id: str,
    body: DecisionIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await forward(
        request,
        "POST",
        _path(referral_id, "extension/decision"),
        x_hub_actor_role,
        x_hub_actor_department,
        json=body.model_dump(mode="json"),
    )


@router.post("/referrals/{referral_id}/suspend", summary="Wait on the citizen: the clock stops")
async def suspend(
    referral_id: str,
    body: SuspendIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await forward(
        request,
        "POST",
        _path(referral_id, "suspend"),
        x_hub_actor_role,
        x_hub_actor_department,
        json=body.model_dump(mode="json"),
    )


@router.post("/referrals/{referral_id}/resume", summary="The clock runs again")
async def resume(
    referral_id: str,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await forward(
        request, "POST", _path(referral_id, "resume"), x_hub_actor_role, x_hub_actor_department
    )


@router.post("/referrals/{referral_id}/reply", summary="答复 (the lead's reply makes the case replied)")
async def reply(
    referral_id: str,
    body: ReplyIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await forward(
        request,
        "POST",
        _path(referral_id, "reply"),
        x_hub_actor_role,
        x_hub_actor_department,
        json=body.model_dump(mode="json"),
    )
