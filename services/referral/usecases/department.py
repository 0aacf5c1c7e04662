"""What a department does with its referral (部门报到): acknowledge (报到/签收), start, return (退回, within
the window, coded reason), ask for an extension and the centre's decision, suspend while waiting on the
citizen (the handling clock stops) and resume, and reply (答复: the lead's reply moves the case).

A department acts on its own referrals only (another's is not found). The referral life cycle is the
domain's: a refused action raises `TransitionRefused`; a late or repeated update whose target state lies
behind (or is) the current one is a no-op (False), never a step backwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.referral import (
    CaseRepliedV1,
    ReferralAcknowledgedV1,
    ReferralExtensionDecidedV1,
    ReferralExtensionRequestedV1,
    ReferralRepliedV1,
    ReferralResumedV1,
    ReferralReturnedV1,
    ReferralStartedV1,
    ReferralSuspendedV1,
)
from services.referral import store
from services.referral.actors import SYSTEM, Actor
from services.referral.domain.centres import redact_reason
from services.referral.domain.deadlines import (
    DeadlineKind,
    ExtensionRefused,
    check_extension_request,
    grant_extension,
    recompute,
)
from services.referral.domain.lifecycle import (
    CASE_MACHINE,
    REFERRAL_MACHINE,
    CaseAction,
    CaseState,
    ReferralAction,
    ReferralState,
    ReferralStatus,
    apply_referral,
    referral_allowed_actions,
)
from services.referral.errors import InvalidRequest, StateConflict, field_error
from services.referral.tables import deadlines, extension_requests, referrals, suspensions
from services.referral.usecases.case_actions import CaseActions
from services.referral.usecases.context import Context
from services.referral.usecases.dispatch import Dispatch
from services.referral.usecases.handling import Handling, end_suspension

# The state an external or department action leads to, for the "late or repeated update" check.
_REFERRAL_TARGET = {
    ReferralAction.acknowledge: ReferralState.acknowledged,
    ReferralAction.start: ReferralState.in_progress,
    ReferralAction.return_: ReferralState.returned,
    ReferralAction.request_extension: ReferralState.extension_requested,
    ReferralAction.reply: ReferralState.replied,
}


class DepartmentActions:
    def __init__(self, ctx: Context, dispatch: Dispatch, handling: Handling, cases: CaseActions) -> None:
        self.ctx = ctx
        self.dispatch = dispatch
        self.handling = handling
        self.cases = cases

    async def acknowledge(self, session: AsyncSession, referral_id: str, actor: Actor) -> bool:
        actor.require("department", "centre")
        case, referral = await self.ctx.load_referral(session, referral_id, actor)
        new = _decide(referral, ReferralAction.acknowledge)
        if new is None:
            return False
        now = self.ctx.clock()
        await _set_status(session, referral, new, now, acknowledged_at=now)
        await store.close_deadlines(
            session,
            referral.id,
            now,
            kinds=[DeadlineKind.acknowledge.value, DeadlineKind.acceptance.value],
            status="met",
        )
        event = ReferralAcknowledgedV1(
            referral_id=referral.id,
            case_no=referral.case_no,
            department=referral.department,
            role=referral.role,
            acknowledged_at=now,
            late=now >= referral.ack_due_at,
        )
        await self.ctx.emit(session, event, actor)
        if referral.role == "lead" and case.status == CaseState.dispatched.value:
            await self.ctx.advance_case(session, case, CaseAction.start, now)
        return True

    async def start(self, session: AsyncSession, referral_id: str, actor: Actor) -> bool:
        actor.require("department", "centre")
        _case, referral = await self.ctx.load_referral(session, referral_id, actor)
        new = _decide(referral, ReferralAction.start)
        if new is None:
            return False
        now = self.ctx.clock()
        await _set_status(session, referral, new, now)
        await self.ctx.emit(session, _started(referral), actor)
        return True

    async def return_referral(
        self, session: AsyncSession, referral_id: str, reason_code: str, reason: str, actor: Actor
    ) -> bool:
        actor.require("department", "centre")
        case, referral = await self.ctx.load_referral(session, referral_id, actor)
        new = _decide(referral, ReferralAction.return_)
        if new is None:
            return False
        now = self.ctx.clock()
        if now >= referral.return_until:
            allowed = [a for a in referral_allowed_actions(store.status_of(referral)) if a != "return"]
            raise StateConflict(
                "return-window-closed",
                "已超过退回时限",
                f"退回须在派发后 2 个工作日内（截至 {referral.return_until.isoformat()}）；当前状态 "
                f"{referral.status}，可执行: {', '.join(allowed)}",
                current_state=referral.status,
                action="return",
                allowed_actions=allowed,
                return_until=referral.return_until.isoformat(),
            )
        await _set_status(
            session, referral, new, now, returned_at=now, return_reason_code=reason_code, return_reason=reason
        )
        await store.close_deadlines(session, referral.id, now)
        await end_suspension(session, referral.id, now)
        event = ReferralReturnedV1(
            referral_id=referral.id,
            case_no=referral.case_no,
            department=referral.department,
            role=referral.role,
            reason_code=reason_code,  # type: ignore[arg-type]
            returned_at=now,
        )
        await self.ctx.emit(session, event, actor)
        await self.dispatch.queue(
            session,
            case.case_no,
            "returned",
            f"{referral.department_name}退回（{reason_code}）：{reason}",
            now,
            actor,
            referral_id=referral.id,
            department=referral.department,
        )
        return True

    async def request_extension(
        self, session: AsyncSession, referral_id: str, amount: int, reason: str, actor: Actor
    ) -> bool:
        actor.require("department", "centre")
        _case, referral = await self.ctx.load_referral(session, referral_id, actor)
        new = _decide(referral, ReferralAction.request_extension)
        if new is None:
            return False
        now = self.ctx.clock()
        row, deadline, procedure = await self.handling.load(session, referral)
        try:
            check_extension_request(procedure, deadline, amount, now)
        except ExtensionRefused as exc:
            raise _extension_refused(exc) from None
        await _set_status(session, referral, new, now)
        await session.execute(
            extension_requests.insert().values(
                referral_id=referral.id,
                amount=amount,
                unit=deadline.limit.unit.value,
                reason=reason,
                requested_at=now,
                due_at_before=row.due_at,
            )
        )
        extension_id = (
            await session.execute(
                select(func.max(extension_requests.c.id)).where(
                    extension_requests.c.referral_id == referral.id
                )
            )
        ).scalar_one()
        external = deadline.external
        asked = None
        if external is not None:
            # The channel's limit binds the lead: the same amount is asked of it, on its limit.
            asked = self.ctx.config.calendar.add(
                external.due_at, amount * deadline.limit.unit.length, deadline.limit.clock
            ).due
        event = ReferralExtensionRequestedV1(
            referral_id=referral.id,
            case_no=referral.case_no,
            department=referral.department,
            amount=amount,
            unit=deadline.limit.unit.value,
            due_at=row.due_at,
            requested_at=now,
            role=referral.role,
            round=referral.round,
            extension_id=extension_id,
            reason=redact_reason(reason),
            external_source=external.source if external else None,
            external_due_at=external.due_at if external else None,
            requested_external_due_at=asked,
        )
        await self.ctx.emit(session, event, actor, department_name=referral.department_name)
        return True

    async def decide_extension(
        self, session: AsyncSession, referral_id: str, approved: bool, note: str | None, actor: Actor
    ) -> bool:
        actor.require("centre")
        _case, referral = await self.ctx.load_referral(session, referral_id, actor)
        pending = (
            await session.execute(
                select(extension_requests)
                .where(extension_requests.c.referral_id == referral.id)
                .order_by(extension_requests.c.id.desc())
                .limit(1)
            )
        ).first()
        status = store.status_of(referral)
        action = ReferralAction.approve_extension if approved else ReferralAction.deny_extension
        if status.state is not ReferralState.extension_requested:
            if pending is not None and pending.decided_at is not None and pending.approved == approved:
                return False  # the same decision again
            REFERRAL_MACHINE.apply(status.state, action)
        assert pending is not None and pending.decided_at is None
        now = self.ctx.clock()
        new = apply_referral(status, action)
        row, deadline, procedure = await self.handling.load(session, referral)
        new_due: datetime | None = None
        if approved:
            try:
                extended = grant_extension(procedure, deadline, pending.amount, self.ctx.config.calendar)
            except ExtensionRefused as exc:
                raise _extension_refused(exc) from None
            new_due = extended.due_at
            await self.handling.rewrite(
                session, referral, row, extended, now, paused=bool(referral.suspended)
            )
        await _set_status(session, referral, new, now, **({"due_at": new_due} if new_due else {}))
        await session.execute(
            update(extension_requests)
            .where(extension_requests.c.id == pending.id)
            .values(decided_at=now, approved=approved, note=note, new_due_at=new_due)
        )
        event = ReferralExtensionDecidedV1(
            referral_id=referral.id,
            case_no=referral.case_no,
            department=referral.department,
            approved=approved,
            new_due_at=new_due,
            due_at=None if approved else row.due_at,
        )
        await self.ctx.emit(session, event, actor)
        return True

    async def suspend(self, session: AsyncSession, referral_id: str, reason: str, actor: Actor) -> bool:
        actor.require("department", "centre")
        _case, referral = await self.ctx.load_referral(session, referral_id, actor)
        new = _decide(referral, ReferralAction.suspend)
        if new is None:
            return False
        now = self.ctx.clock()
        if referral.status == ReferralState.acknowledged.value:
            await self.ctx.emit(session, _started(referral), actor)
        await _set_status(session, referral, new, now)
        await session.execute(
            suspensions.insert().values(referral_id=referral.id, started_at=now, reason=reason)
        )
        # The handling clock stops: the watchdog does not look at it until it runs again.
        await session.execute(
            update(deadlines)
            .where(
                deadlines.c.referral_id == referral.id,
                deadlines.c.kind == DeadlineKind.handling.value,
                deadlines.c.status == "open",
            )
            .values(next_check_at=None, updated_at=now)
        )
        event = ReferralSuspendedV1(
            referral_id=referral.id,
            case_no=referral.case_no,
            department=referral.department,
            suspended_at=now,
        )
        await self.ctx.emit(session, event, actor)
        return True

    async def resume(self, session: AsyncSession, referral_id: str, actor: Actor) -> bool:
        actor.require("department", "centre")
        _case, referral = await self.ctx.load_referral(session, referral_id, actor)
        new = _decide(referral, ReferralAction.resume)
        if new is None:
            return False
        now = self.ctx.clock()
        await end_suspension(session, referral.id, now)
        row, deadline, _procedure = await self.handling.load(session, referral)
        pauses = await store.pauses_of(session, referral.id)
        moved = recompute(deadline, self.ctx.config.calendar, pauses=pauses)
        await self.handling.rewrite(session, referral, row, moved, now, paused=False)
        await _set_status(session, referral, new, now, due_at=moved.due_at)
        event = ReferralResumedV1(
            referral_id=referral.id,
            case_no=referral.case_no,
            department=referral.department,
            resumed_at=now,
            due_at=moved.due_at,
        )
        await self.ctx.emit(session, event, actor)
        return True

    async def reply(
        self, session: AsyncSession, referral_id: str, outcome: str, summary: str, actor: Actor
    ) -> bool:
        actor.require("department", "centre")
        case, referral = await self.ctx.load_referral(session, referral_id, actor)
        new = _decide(referral, ReferralAction.reply)
        if new is None:
            return False
        now = self.ctx.clock()
        await _set_status(
            session, referral, new, now, replied_at=now, reply_outcome=outcome, reply_summary=summary
        )
        await store.close_deadlines(
            session, referral.id, now, kinds=[DeadlineKind.handling.value], status="met"
        )
        await store.close_deadlines(session, referral.id, now)
        await end_suspension(session, referral.id, now)
        event = ReferralRepliedV1(
            referral_id=referral.id,
            case_no=referral.case_no,
            department=referral.department,
            department_name=referral.department_name,
            role=referral.role,
            outcome=outcome,  # type: ignore[arg-type]
            replied_at=now,
            late=now >= referral.due_at,
        )
        await self.ctx.emit(session, event, actor)
        if referral.role != "lead" or referral.round != case.round:
            return True  # an assisting reply is attached to the case, which waits for its lead
        if case.status == CaseState.dispatched.value:
            case = await self.ctx.advance_case(session, case, CaseAction.start, now)
        if CaseAction.reply_received not in CASE_MACHINE.allowed_actions(CaseState(case.status)):
            return True
        case = await self.ctx.advance_case(
            session, case, CaseAction.reply_received, now, reply_outcome=outcome, replied_at=now
        )
        replied = CaseRepliedV1(
            case_no=case.case_no, lead_department_name=referral.department_name, replied_at=now
        )
        await self.ctx.emit(session, replied, actor, lead_department=referral.department, outcome=outcome)
        if case.anonymous:
            # No SMS, no callback for an anonymous reporter: the case closes on the reply (RULES.md).
            await self.cases.close_case(
                session, case, CaseAction.close, "anonymous_reporter", None, SYSTEM, now
            )
        return True


def _decide(referral: Row[Any], action: ReferralAction) -> ReferralStatus | None:
    """The new status, or None for a late or repeated update (a no-op); raises TransitionRefused."""
    status = store.status_of(referral)
    if action in (ReferralAction.suspend, ReferralAction.resume):
        open_for_pause = status.state in (ReferralState.in_progress, ReferralState.extension_requested)
        repeat = status.suspended if action is ReferralAction.suspend else not status.suspended
        if open_for_pause and repeat:
            return None
        if status.state is ReferralState.acknowledged and action is ReferralAction.suspend:
            started = apply_referral(status, ReferralAction.start)
            return apply_referral(started, action)
        return apply_referral(status, action)
    target = _REFERRAL_TARGET.get(action)
    if target is not None and (
        status.state is target or REFERRAL_MACHINE.is_regression(status.state, target)
    ):
        return None
    return apply_referral(status, action)


async def _set_status(
    session: AsyncSession, referral: Row[Any], new: ReferralStatus, now: datetime, **values: Any
) -> None:
    await session.execute(
        update(referrals)
        .where(referrals.c.id == referral.id)
        .values(status=new.state.value, suspended=new.suspended, updated_at=now, **values)
    )


def _started(referral: Row[Any]) -> ReferralStartedV1:
    return ReferralStartedV1(
        referral_id=referral.id, case_no=referral.case_no, department=referral.department
    )


def _extension_refused(exc: ExtensionRefused) -> InvalidRequest:
    return InvalidRequest(
        "延期申请不符合规定",
        exc.message,
        type_="extension-refused",
        code=exc.code,
        errors=[field_error("working_days", exc.message)],
    )
