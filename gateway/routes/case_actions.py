"""Public case actions of the centre (API.md "Cases"), forwarded to the referral service.

Dispatch / re-route, callback (回访), close (销号), withdraw, 回退 (return to the channel), 信调裁诉 (refer onward to arbitration or
court), joint consultation meetings (联席会商), and the dispatcher's queue. The caller's role travels
as `X-Hub-Actor-Role` (default centre), checked by the referral service.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from gateway.routes.referrals import ActorDepartment, ActorRole, forward

router = APIRouter(prefix="/api/v1", tags=["cases"])

Text = Annotated[str, Field(min_length=1, max_length=2000)]
UnitCode = Annotated[str, Field(min_length=1, max_length=100, examples=["housing_bureau@150203"])]


class DispatchIn(BaseModel):
    lead: UnitCode
    assisting: list[UnitCode] = Field(default_factory=list, max_length=20)


class CallbackIn(BaseModel):
    satisfaction: Literal["satisfied", "basically_satisfied", "dissatisfied"]
    comment: Annotated[str, Field(max_length=2000)] | None = None


class CloseIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class WithdrawIn(BaseModel):
    reason: Text


class ReturnToChannelIn(BaseModel):
    reason_code: Literal["not_our_duty", "wrong_area", "insufficient_info", "duplicate", "other"]
    reason: Text


class ReferOnwardIn(BaseModel):
    to: Literal["arbitration", "court"]


class MeetingIn(BaseModel):
    held_at: AwareDatetime
    departments: list[UnitCode] = Field(min_length=1, max_length=30)
    decisions: list[Text] = Field(default_factory=list, max_length=50)


def _path(case_no: str, action: str) -> str:
    return f"/internal/v1/cases/{quote(case_no, safe='')}/{action}"


async def _post(
    request: Request, case_no: str, action: str, role: str | None, department: str | None, body: Any
) -> Response:
    return await forward(request, "POST", _path(case_no, action), role, department, json=body)


@router.post("/cases/{case_no}/dispatch", summary="Manual dispatch or re-route (centre): {lead, assisting[]}")
async def dispatch_case(
    case_no: str,
    body: DispatchIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await _post(
        request, case_no, "dispatch", x_hub_actor_role, x_hub_actor_department, body.model_dump(mode="json")
    )


@router.post("/cases/{case_no}/callback", summary="Callback rating (回访); dissatisfied reopens")
async def callback(
    case_no: str,
    body: CallbackIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await _post(
        request, case_no, "callback", x_hub_actor_role, x_hub_actor_department, body.model_dump(mode="json")
    )


@router.post("/cases/{case_no}/close", summary="Close (销号)")
async def close_case(
    case_no: str,
    request: Request,
    body: Annotated[CloseIn | None, Body()] = None,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    payload = body.model_dump(mode="json") if body else None
    return await _post(request, case_no, "close", x_hub_actor_role, x_hub_actor_department, payload)


@router.post("/cases/{case_no}/withdraw", summary="The citizen withdraws; open referrals are cancelled")
async def withdraw_case(
    case_no: str,
    body: WithdrawIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await _post(
        request, case_no, "withdraw", x_hub_actor_role, x_hub_actor_department, body.model_dump(mode="json")
    )


@router.post(
    "/cases/{case_no}/refer-onward", summary="信调裁诉: send an unresolved case to arbitration or court"
)
async def refer_onward(
    case_no: str,
    body: ReferOnwardIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await _post(
        request,
        case_no,
        "refer-onward",
        x_hub_actor_role,
        x_hub_actor_department,
        body.model_dump(mode="json"),
    )


@router.post(
    "/cases/{case_no}/return-to-channel",
    summary="回退: give a case back to the channel it came from (12345), with a reason code",
)
async def return_to_channel(
    case_no: str,
    body: ReturnToChannelIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    """The centre decides the case is not the hub's (until the lead has replied): the case ends as
    `returned_to_channel`, its referrals are cancelled, and the channel hears it (12345: 回退,
    feedbackType 7 with returnType)."""
    return await _post(
        request,
        case_no,
        "return-to-channel",
        x_hub_actor_role,
        x_hub_actor_department,
        body.model_dump(mode="json"),
    )


@router.post("/cases/{case_no}/meetings", summary="Record a joint consultation meeting (联席会商)")
async def record_meeting(
    case_no: str,
    body: MeetingIn,
    request: Request,
    x_hub_actor_role: ActorRole = None,
    x_hub_actor_department: ActorDepartment = None,
) -> Response:
    return await _post(
        request, case_no, "meetings", x_hub_actor_role, x_hub_actor_department, body.model_dump(mode="json")
    )


@router.get("/dispatch-queue", summary="Cases waiting for a dispatcher (no rule matched, returned, …)")
async def dispatch_queue(
    request: Request, x_hub_actor_role: ActorRole = None, x_hub_actor_department: ActorDepartment = None
) -> Response:
    return await forward(
        request, "GET", "/internal/v1/dispatch-queue", x_hub_actor_role, x_hub_actor_department
    )
