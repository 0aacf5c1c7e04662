"""Referral's HTTP interface behind the gateway (/internal/v1): cases and referrals.

Who is calling comes from the gateway's internal credential (edge.py `actor_from_credential`): role
(centre | department | adapter | ops) and, for a department, its unit code. A department sees and acts on its own referrals only: another
department's referral is 404, as if it did not exist. Each action is one transaction: the state change,
its events (outbox) and the answer are consistent; a refused transition is 409 naming the current
state and the allowed actions; a late or repeated update is 200 with ``changed: false``. Each route
calls its use case directly with the fields of its typed body (hub/contracts/http/referral.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.http.referral import (
    MAX_PAGE,
    CallbackIn,
    CaseActionOut,
    CasePage,
    CaseStateOut,
    CloseIn,
    DecisionIn,
    DelegateIn,
    DispatchIn,
    EscalateIn,
    ExtensionIn,
    MeetingIn,
    QueuePage,
    ReferOnwardIn,
    ReferralActionOut,
    ReferralOut,
    ReferralPage,
    ReplyIn,
    ReturnIn,
    ReturnToChannelIn,
    SuspendIn,
    WithdrawIn,
)
from services.referral import case_views, list_views
from services.referral.actors import SYSTEM, Actor
from services.referral.edge import ActorDep, annotate, runtime, use_cases

router = APIRouter(prefix="/internal/v1", tags=["referral"])

Action = Callable[[AsyncSession], Awaitable[bool]]


# --- cases ---------------------------------------------------------------------------------------------


@router.get("/cases", response_model=CasePage, summary="Cases newest first, filtered (no personal data)")
async def list_cases(
    request: Request,
    actor: ActorDep,
    status: Annotated[str | None, Query(max_length=32)] = None,
    colour: Annotated[str | None, Query(max_length=16)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    street_code: Annotated[str | None, Query(max_length=12, pattern=r"^[0-9]+$")] = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    async with runtime(request).db.sessions() as session:
        return await list_views.list_cases(
            session,
            actor,
            use_cases(request).context.clock(),
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
async def get_case_state(case_no: str, request: Request, actor: ActorDep) -> CaseStateOut:
    async with runtime(request).db.sessions() as session:
        return await case_views.case_view(session, case_no, actor, use_cases(request).context.clock())


@router.get("/dispatch-queue", response_model=QueuePage, summary="Cases waiting for a dispatcher")
async def get_dispatch_queue(
    request: Request, actor: ActorDep, limit: Annotated[int, Query(ge=1, le=200)] = 100
) -> QueuePage:
    actor.require("centre", "ops")
    async with runtime(request).db.sessions() as session:
        return await case_views.dispatcher_queue(session, actor, use_cases(request).context.clock(), limit)


async def _case_result(
    request: Request, case_no: str, actor: Actor, act: Action, *, reader: Actor | None = None
) -> CaseActionOut:
    """Run the action (scoped by its use case) and read the case as it left it, as ``reader`` (default
    the actor) may see it, in one transaction."""
    clock = use_cases(request).context.clock
    async with runtime(request).db.transaction() as session:
        changed = await act(session)
        case = await case_views.case_view(session, case_no, reader or actor, clock())
    annotate(case_no=case_no)
    return CaseActionOut(changed=changed, case=case)


@router.post(
    "/cases/{case_no}/dispatch", response_model=CaseActionOut, summary="Manual dispatch or re-route (centre)"
)
async def dispatch_case(case_no: str, body: DispatchIn, request: Request, actor: ActorDep) -> CaseActionOut:
    uc = use_cases(request)
    async with runtime(request).db.transaction() as session:
        await uc.dispatch.manual_dispatch(session, case_no, body.lead, body.assisting, actor)
        case = await case_views.case_view(session, case_no, actor, uc.context.clock())
    return CaseActionOut(changed=True, case=case)


@router.post("/cases/{case_no}/callback", response_model=CaseActionOut, summary="Callback rating (回访)")
async def callback(case_no: str, body: CallbackIn, request: Request, actor: ActorDep) -> CaseActionOut:
    actor.require("centre", "adapter")
    cases = use_cases(request).cases
    return await _case_result(
        request, case_no, actor, lambda s: cases.callback(s, case_no, body.satisfaction, body.comment, actor)
    )


@router.post("/cases/{case_no}/close", response_model=CaseActionOut, summary="Close (销号)")
async def close_case(
    case_no: str, request: Request, actor: ActorDep, body: Annotated[CloseIn | None, Body()] = None
) -> CaseActionOut:
    cases = use_cases(request).cases
    reason = body.reason if body else None
    return await _case_result(request, case_no, actor, lambda s: cases.close(s, case_no, reason, actor))


@router.post("/cases/{case_no}/withdraw", response_model=CaseActionOut, summary="The citizen withdraws")
async def withdraw_case(case_no: str, body: WithdrawIn, request: Request, actor: ActorDep) -> CaseActionOut:
    cases = use_cases(request).cases
    return await _case_result(
        request, case_no, actor, lambda s: cases.withdraw(s, case_no, body.reason, actor)
    )


@router.post(
    "/cases/{case_no}/return-to-channel",
    response_model=CaseActionOut,
    summary="回退: give a 12345 case back to the channel (centre), with a reason code",
)
async def return_to_channel(
    case_no: str, body: ReturnToChannelIn, request: Request, actor: ActorDep
) -> CaseActionOut:
    cases = use_cases(request).cases
    return await _case_result(
        request,
        case_no,
        actor,
        lambda s: cases.return_to_channel(s, case_no, body.reason_code, body.reason, actor),
    )


@router.post(
    "/cases/{case_no}/refer-onward", response_model=CaseActionOut, summary="信调裁诉: to arbitration or court"
)
async def refer_onward(case_no: str, body: ReferOnwardIn, request: Request, actor: ActorDep) -> CaseActionOut:
    cases = use_cases(request).cases
    return await _case_result(
        request, case_no, actor, lambda s: cases.refer_onward(s, case_no, body.to, actor)
    )


@router.post(
    "/cases/{case_no}/meetings",
    response_model=CaseActionOut,
    summary="Record a joint consultation (联席会商)",
)
async def record_meeting(case_no: str, body: MeetingIn, request: Request, actor: ActorDep) -> CaseActionOut:
    cases = use_cases(request).cases
    return await _case_result(
        request,
        case_no,
        actor,
        lambda s: cases.record_meeting(s, case_no, body.held_at, body.departments, body.decisions, actor),
    )


# --- tiered centres (分级调处): cases move between centres --------------------------------------------


@router.post("/cases/{case_no}/escalate", response_model=CaseActionOut, summary="上报 to the parent centre")
async def escalate_case(case_no: str, body: EscalateIn, request: Request, actor: ActorDep) -> CaseActionOut:
    centres = use_cases(request).centres
    # After 上报 the case is held above the person's centre: the answer still shows what they just did
    # (the escalation itself was scoped); later reads are not found.
    return await _case_result(
        request,
        case_no,
        actor,
        lambda s: centres.escalate(s, case_no, body.reason, actor),
        reader=SYSTEM,
    )


@router.post("/cases/{case_no}/delegate", response_model=CaseActionOut, summary="下派 to a centre below")
async def delegate_case(case_no: str, body: DelegateIn, request: Request, actor: ActorDep) -> CaseActionOut:
    centres = use_cases(request).centres
    return await _case_result(
        request, case_no, actor, lambda s: centres.delegate(s, case_no, body.to_centre, body.reason, actor)
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
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReferralPage:
    async with runtime(request).db.sessions() as session:
        return await list_views.list_referrals(
            session,
            actor,
            use_cases(request).context.clock(),
            status=status,
            overdue=overdue,
            department=department,
            case_no=case_no,
            page=page,
            page_size=page_size,
        )


@router.get("/referrals/{referral_id}", response_model=ReferralOut, summary="One referral")
async def get_referral(referral_id: str, request: Request, actor: ActorDep) -> ReferralOut:
    async with runtime(request).db.sessions() as session:
        return await case_views.referral_view(session, referral_id, actor, use_cases(request).context.clock())


async def _referral_result(
    request: Request, referral_id: str, actor: Actor, act: Action
) -> ReferralActionOut:
    """Run the action and read the referral as it left it (as the caller may see it), in one transaction."""
    clock = use_cases(request).context.clock
    async with runtime(request).db.transaction() as session:
        changed = await act(session)
        referral = await case_views.referral_view(session, referral_id, actor, clock())
    annotate(case_no=referral.case_no, department=referral.department, referral_id=referral_id)
    return ReferralActionOut(changed=changed, referral=referral)


@router.post("/referrals/{referral_id}/acknowledge", response_model=ReferralActionOut, summary="报到/签收")
async def acknowledge(referral_id: str, request: Request, actor: ActorDep) -> ReferralActionOut:
    dept = use_cases(request).department
    return await _referral_result(
        request, referral_id, actor, lambda s: dept.acknowledge(s, referral_id, actor)
    )


@router.post("/referrals/{referral_id}/start", response_model=ReferralActionOut, summary="Start work")
async def start(referral_id: str, request: Request, actor: ActorDep) -> ReferralActionOut:
    dept = use_cases(request).department
    return await _referral_result(request, referral_id, actor, lambda s: dept.start(s, referral_id, actor))


@router.post(
    "/referrals/{referral_id}/return", response_model=ReferralActionOut, summary="退回 (within the window)"
)
async def return_referral(
    referral_id: str, body: ReturnIn, request: Request, actor: ActorDep
) -> ReferralActionOut:
    dept = use_cases(request).department
    return await _referral_result(
        request,
        referral_id,
        actor,
        lambda s: dept.return_referral(s, referral_id, body.reason_code, body.reason, actor),
    )


@router.post(
    "/referrals/{referral_id}/extension", response_model=ReferralActionOut, summary="Ask for an extension"
)
async def request_extension(
    referral_id: str, body: ExtensionIn, request: Request, actor: ActorDep
) -> ReferralActionOut:
    dept = use_cases(request).department
    return await _referral_result(
        request,
        referral_id,
        actor,
        lambda s: dept.request_extension(s, referral_id, body.working_days, body.reason, actor),
    )


@router.post(
    "/referrals/{referral_id}/extension/decision",
    response_model=ReferralActionOut,
    summary="The centre approves or denies an extension",
)
async def decide_extension(
    referral_id: str, body: DecisionIn, request: Request, actor: ActorDep
) -> ReferralActionOut:
    dept = use_cases(request).department
    return await _referral_result(
        request,
        referral_id,
        actor,
        lambda s: dept.decide_extension(s, referral_id, body.approved, body.note, actor),
    )


@router.post(
    "/referrals/{referral_id}/suspend",
    response_model=ReferralActionOut,
    summary="Wait on the citizen (clock stops)",
)
async def suspend(referral_id: str, body: SuspendIn, request: Request, actor: ActorDep) -> ReferralActionOut:
    dept = use_cases(request).department
    return await _referral_result(
        request, referral_id, actor, lambda s: dept.suspend(s, referral_id, body.reason, actor)
    )


@router.post(
    "/referrals/{referral_id}/resume", response_model=ReferralActionOut, summary="The clock runs again"
)
async def resume(referral_id: str, request: Request, actor: ActorDep) -> ReferralActionOut:
    dept = use_cases(request).department
    return await _referral_result(request, referral_id, actor, lambda s: dept.resume(s, referral_id, actor))


@router.post("/referrals/{referral_id}/reply", response_model=ReferralActionOut, summary="答复")
async def reply(referral_id: str, body: ReplyIn, request: Request, actor: ActorDep) -> ReferralActionOut:
    dept = use_cases(request).department
    return await _referral_result(
        request, referral_id, actor, lambda s: dept.reply(s, referral_id, body.outcome, body.summary, actor)
    )
