"""Referral's HTTP interface behind the gateway (/internal/v1).

The gateway passes who is calling in `X-Hub-Actor-Role` (centre | department | adapter | ops) and
`X-Hub-Actor-Department` (a unit code). A department sees and acts on its own referrals only: another
department's referral is 404, as if it did not exist. Each action is one transaction: the state change,
its events (outbox) and the answer are consistent; a refused transition is 409 naming the current
state and the allowed actions; a late or repeated update is 200 with ``changed: false``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from opentelemetry import trace
from pydantic import AwareDatetime, BaseModel, Field

from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.referral import views
from services.referral.actors import Actor, actor_from_headers
from services.referral.domain.calendar import parse_year_schedule
from services.referral.domain.datafile import DataFileError
from services.referral.views import (
    CaseActionOut,
    CaseStateOut,
    QueuePage,
    ReferralActionOut,
    ReferralOut,
    ReferralPage,
)
from services.referral.workflow import Workflow

router = APIRouter(prefix="/internal/v1", tags=["referral"])

ActorDep = Annotated[Actor, Depends(actor_from_headers)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
UnitCode = Annotated[str, Field(min_length=1, max_length=100)]


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


def _rt(request: Request) -> ServiceRuntime:
    rt: ServiceRuntime = request.app.state.runtime
    return rt


def _wf(request: Request) -> Workflow:
    wf: Workflow = request.app.state.workflow
    return wf


# --- cases ---------------------------------------------------------------------------------------------


@router.get(
    "/cases", response_model=views.CasePage, summary="Cases newest first, filtered (no personal data)"
)
async def list_cases(
    request: Request,
    status: Annotated[str | None, Query(max_length=32)] = None,
    colour: Annotated[str | None, Query(max_length=16)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    street_code: Annotated[str | None, Query(max_length=12, pattern=r"^[0-9]+$")] = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> views.CasePage:
    async with _rt(request).db.sessions() as session:
        return await views.list_cases(
            session,
            _wf(request).clock(),
            status=status,
            colour=colour,
            category=category,
            street_code=street_code,
            overdue=overdue,
            page=page,
            page_size=page_size,
        )


@router.get(
    "/cases/{case_no}",
    response_model=CaseStateOut,
    summary="The case's state, referrals, deadlines, supervision level",
)
async def get_case_state(case_no: str, request: Request) -> CaseStateOut:
    async with _rt(request).db.sessions() as session:
        return await views.case_view(session, case_no, _wf(request).clock())


@router.get("/dispatch-queue", response_model=QueuePage, summary="Cases waiting for a dispatcher")
async def get_dispatch_queue(request: Request, actor: ActorDep) -> QueuePage:
    actor.require("centre", "ops")
    async with _rt(request).db.sessions() as session:
        return await views.dispatcher_queue(session, _wf(request).clock())


async def _case_action(
    request: Request, case_no: str, action: str, *args: object, actor: Actor
) -> CaseActionOut:
    wf = _wf(request)
    async with _rt(request).db.transaction() as session:
        changed = await getattr(wf, action)(session, case_no, *args, actor)
        case = await views.case_view(session, case_no, wf.clock())
    _annotate(case_no=case_no)
    return CaseActionOut(changed=changed, case=case)


@router.post(
    "/cases/{case_no}/dispatch", response_model=CaseActionOut, summary="Manual dispatch or re-route (centre)"
)
async def dispatch_case(case_no: str, body: DispatchIn, request: Request, actor: ActorDep) -> CaseActionOut:
    wf = _wf(request)
    async with _rt(request).db.transaction() as session:
        await wf.manual_dispatch(session, case_no, body.lead, body.assisting, actor)
        case = await views.case_view(session, case_no, wf.clock())
    return CaseActionOut(changed=True, case=case)


@router.post("/cases/{case_no}/callback", response_model=CaseActionOut, summary="Callback rating (回访)")
async def callback(case_no: str, body: CallbackIn, request: Request, actor: ActorDep) -> CaseActionOut:
    actor.require("centre", "adapter")
    return await _case_action(request, case_no, "callback", body.satisfaction, body.comment, actor=actor)


@router.post("/cases/{case_no}/close", response_model=CaseActionOut, summary="Close (销号)")
async def close_case(
    case_no: str, request: Request, actor: ActorDep, body: Annotated[CloseIn | None, Body()] = None
) -> CaseActionOut:
    return await _case_action(request, case_no, "close", body.reason if body else None, actor=actor)


@router.post("/cases/{case_no}/withdraw", response_model=CaseActionOut, summary="The citizen withdraws")
async def withdraw_case(case_no: str, body: WithdrawIn, request: Request, actor: ActorDep) -> CaseActionOut:
    return await _case_action(request, case_no, "withdraw", body.reason, actor=actor)


@router.post(
    "/cases/{case_no}/return-to-channel",
    response_model=CaseActionOut,
    summary="回退: give a 12345 case back to the channel (centre), with a reason code",
)
async def return_to_channel(
    case_no: str, body: ReturnToChannelIn, request: Request, actor: ActorDep
) -> CaseActionOut:
    return await _case_action(
        request, case_no, "return_to_channel", body.reason_code, body.reason, actor=actor
    )


@router.post(
    "/cases/{case_no}/refer-onward", response_model=CaseActionOut, summary="信调裁诉: to arbitration or court"
)
async def refer_onward(case_no: str, body: ReferOnwardIn, request: Request, actor: ActorDep) -> CaseActionOut:
    return await _case_action(request, case_no, "refer_onward", body.to, actor=actor)


@router.post(
    "/cases/{case_no}/meetings",
    response_model=CaseActionOut,
    summary="Record a joint consultation (联席会商)",
)
async def record_meeting(case_no: str, body: MeetingIn, request: Request, actor: ActorDep) -> CaseActionOut:
    return await _case_action(
        request, case_no, "record_meeting", body.held_at, body.departments, body.decisions, actor=actor
    )


# --- referrals ---------------------------------------------------------------------------------------


@router.get("/referrals", response_model=ReferralPage, summary="Referrals (a department: its own)")
async def list_referrals(
    request: Request,
    actor: ActorDep,
    status: Annotated[str | None, Query(max_length=32)] = None,
    overdue: bool | None = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
    case_no: Annotated[str | None, Query(max_length=32)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReferralPage:
    async with _rt(request).db.sessions() as session:
        return await views.list_referrals(
            session,
            actor,
            _wf(request).clock(),
            status=status,
            overdue=overdue,
            department=department,
            case_no=case_no,
            page=page,
            page_size=page_size,
        )


@router.get("/referrals/{referral_id}", response_model=ReferralOut, summary="One referral")
async def get_referral(referral_id: str, request: Request, actor: ActorDep) -> ReferralOut:
    async with _rt(request).db.sessions() as session:
        return await views.referral_view(session, referral_id, actor, _wf(request).clock())


async def _referral_action(
    request: Request, referral_id: str, action: str, *args: object, actor: Actor
) -> ReferralActionOut:
    wf = _wf(request)
    async with _rt(request).db.transaction() as session:
        changed = await getattr(wf, action)(session, referral_id, *args, actor)
        referral = await views.referral_view(session, referral_id, actor, wf.clock())
    _annotate(case_no=referral.case_no, department=referral.department, referral_id=referral_id)
    return ReferralActionOut(changed=changed, referral=referral)


def _annotate(**attributes: str) -> None:
    """Codes only on spans (case number, unit code), never names or phone numbers."""
    span = trace.get_current_span()
    for key, value in attributes.items():
        span.set_attribute(f"hub.{key}", value)


@router.post("/referrals/{referral_id}/acknowledge", response_model=ReferralActionOut, summary="报到/签收")
async def acknowledge(referral_id: str, request: Request, actor: ActorDep) -> ReferralActionOut:
    return await _referral_action(request, referral_id, "acknowledge", actor=actor)


@router.post("/referrals/{referral_id}/start", response_model=ReferralActionOut, summary="Start work")
async def start(referral_id: str, request: Request, actor: ActorDep) -> ReferralActionOut:
    return await _referral_action(request, referral_id, "start", actor=actor)


@router.post(
    "/referrals/{referral_id}/return", response_model=ReferralActionOut, summary="退回 (within the window)"
)
async def return_referral(
    referral_id: str, body: ReturnIn, request: Request, actor: ActorDep
) -> ReferralActionOut:
    return await _referral_action(
        request, referral_id, "return_referral", body.reason_code, body.reason, actor=actor
    )


@router.post(
    "/referrals/{referral_id}/extension", response_model=ReferralActionOut, summary="Ask for an extension"
)
async def request_extension(
    referral_id: str, body: ExtensionIn, request: Request, actor: ActorDep
) -> ReferralActionOut:
    return await _referral_action(
        request, referral_id, "request_extension", body.working_days, body.reason, actor=actor
    )


@router.post(
    "/referrals/{referral_id}/extension/decision",
    response_model=ReferralActionOut,
    summary="The centre approves or denies an extension",
)
async def decide_extension(
    referral_id: str, body: DecisionIn, request: Request, actor: ActorDep
) -> ReferralActionOut:
    return await _referral_action(
        request, referral_id, "decide_extension", body.approved, body.note, actor=actor
    )


@router.post(
    "/referrals/{referral_id}/suspend",
    response_model=ReferralActionOut,
    summary="Wait on the citizen (clock stops)",
)
async def suspend(referral_id: str, body: SuspendIn, request: Request, actor: ActorDep) -> ReferralActionOut:
    return await _referral_action(request, referral_id, "suspend", body.reason, actor=actor)


@router.post(
    "/referrals/{referral_id}/resume", response_model=ReferralActionOut, summary="The clock runs again"
)
async def resume(referral_id: str, request: Request, actor: ActorDep) -> ReferralActionOut:
    return await _referral_action(request, referral_id, "resume", actor=actor)


@router.post("/referrals/{referral_id}/reply", response_model=ReferralActionOut, summary="答复")
async def reply(referral_id: str, body: ReplyIn, request: Request, actor: ActorDep) -> ReferralActionOut:
    return await _referral_action(request, referral_id, "reply", body.outcome, body.summary, actor=actor)


# --- tiered centres (分级调处) ------------------------------------------------------------------------


class EscalateIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000, description="上报理由 (required)")]


class DelegateIn(BaseModel):
    to_centre: Annotated[str, Field(min_length=6, max_length=12, description="the lower centre's area code")]
    reason: Annotated[str, Field(max_length=2000)] | None = None


class CentreOut(BaseModel):
    id: str
    level: str
    name_zh: str
    parent_id: str | None


@router.post("/cases/{case_no}/escalate", response_model=CaseActionOut, summary="上报 to the parent centre")
async def escalate_case(case_no: str, body: EscalateIn, request: Request, actor: ActorDep) -> CaseActionOut:
    return await _case_action(request, case_no, "escalate", body.reason, actor=actor)


@router.post("/cases/{case_no}/delegate", response_model=CaseActionOut, summary="下派 to a centre below")
async def delegate_case(case_no: str, body: DelegateIn, request: Request, actor: ActorDep) -> CaseActionOut:
    return await _case_action(request, case_no, "delegate", body.to_centre, body.reason, actor=actor)


@router.get(
    "/centres", response_model=list[CentreOut], summary="The centre tree (district, streets, communities)"
)
async def list_centres(request: Request) -> list[CentreOut]:
    tree = _wf(request).config.centres
    return [
        CentreOut(id=c.id, level=c.level.value, name_zh=c.name_zh, parent_id=c.parent_id)
        for c in tree.centres.values()
    ]


@router.get(
    "/centres/{centre_id}/cases",
    response_model=views.CentreCasesOut,
    summary="Cases a centre sees: its own and those below it (the district: every red case at once)",
)
async def centre_cases(
    centre_id: str,
    request: Request,
    actor: ActorDep,
    open_only: bool = True,
    colour: Annotated[str | None, Query(max_length=16)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> views.CentreCasesOut:
    actor.require("centre", "ops")
    tree = _wf(request).config.centres
    if centre_id not in tree.centres:
        raise Problem(404, "未找到该中心", f"没有编码为 {centre_id} 的中心", type_="centre-not-found")
    async with _rt(request).db.sessions() as session:
        return await views.centre_cases(
            session, tree, centre_id, open_only=open_only, colour=colour, page=page, page_size=page_size
        )


@router.get(
    "/stats/resolution-levels",
    response_model=views.ResolutionLevelsOut,
    summary="Closed cases by the level at which they were finally resolved",
)
async def resolution_levels(
    request: Request,
    actor: ActorDep,
    centre: Annotated[str | None, Query(max_length=12)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
) -> views.ResolutionLevelsOut:
    actor.require("centre", "ops")
    tree = _wf(request).config.centres
    if centre is not None and centre not in tree.centres:
        raise Problem(404, "未找到该中心", f"没有编码为 {centre} 的中心", type_="centre-not-found")
    async with _rt(request).db.sessions() as session:
        return await views.resolution_levels(session, tree, centre=centre, category=category)


# --- holiday schedules (节假日安排) -------------------------------------------------------------------


class ScheduleIn(BaseModel):
    text: Annotated[
        str, Field(min_length=1, max_length=200_000, description="the schedule file (YAML or JSON)")
    ]
    source: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="where it came from (file name); the document's own `source` wins"
    )


class ScheduleLoadedOut(BaseModel):
    year: int
    source: str
    holidays: int
    workdays: int
    recomputed: int  # provisional deadlines recomputed (each exactly once)


@router.post(
    "/calendar/schedules",
    response_model=ScheduleLoadedOut,
    summary="Load a year's official holiday schedule (audited); provisional deadlines are recomputed",
)
async def load_schedule(body: ScheduleIn, request: Request, actor: ActorDep) -> ScheduleLoadedOut:
    actor.require("centre")
    try:
        schedule = parse_year_schedule(body.text, source=body.source or "api")
    except DataFileError as exc:
        raise Problem(
            422,
            "节假日安排文件有误",
            str(exc),
            type_="validation-error",
            errors=[{"field": f"text.{exc.where}", "message": exc.message}],
        ) from None
    wf = _wf(request)
    calendar_before = wf.config
    try:
        async with _rt(request).db.transaction() as session:
            recomputed = await wf.load_schedule(session, schedule, actor)
    except BaseException:
        # Not committed: this process must not go on counting days with a schedule nobody stored.
        wf.config = calendar_before
        raise
    return ScheduleLoadedOut(
        year=schedule.year,
        source=schedule.source,
        holidays=len(schedule.holidays),
        workdays=len(schedule.makeup_workdays),
        recomputed=recomputed,
    )


@router.get("/calendar", summary="Which years the working-day calendar covers, and provisional deadlines")
async def calendar_status(request: Request, actor: ActorDep) -> dict[str, object]:
    actor.require("centre", "ops")
    async with _rt(request).db.sessions() as session:
        return await _wf(request).schedules_view(session)
