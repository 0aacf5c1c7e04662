"""The referral service's use cases (中心吹哨、部门报到): dispatch, department actions, callback, closure.

Every method works inside the caller's transaction (an HTTP request's or a consumer's, with its inbox
row) and writes its events to the outbox in that same transaction: a state change and the events it
causes commit together or not at all. Time comes from the injected clock. The life cycles are the
domain's (:mod:`services.referral.domain.lifecycle`): an action the machine does not allow raises
`TransitionRefused` (HTTP 409), and a late or repeated update whose target state lies behind (or is)
the current one is a no-op (the method returns False), never a step backwards.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub import audit
from hub.contracts.base import Contract
from hub.contracts.referral import (
    CaseCentreAssignedV1,
    CaseCentreMovedV1,
    CaseClosedV1,
    CaseDispatchedV1,
    CaseDistrictAlertedV1,
    CaseExternalExtensionAnsweredV1,
    CaseMeetingHeldV1,
    CaseQueuedForDispatcherV1,
    CaseReferredToCourtV1,
    CaseReopenedV1,
    CaseRepliedV1,
    CaseReturnedToChannelV1,
    CaseWithdrawnV1,
    DeadlinesProvisionalV1,
    DeadlinesRecomputedV1,
    ReferralAcknowledgedV1,
    ReferralCancelledV1,
    ReferralDispatchedV1,
    ReferralExtensionDecidedV1,
    ReferralExtensionRequestedV1,
    ReferralRepliedV1,
    ReferralResumedV1,
    ReferralReturnedV1,
    ReferralStartedV1,
    ReferralSupervisionRaisedV1,
    ReferralSuspendedV1,
    ScheduleLoadedV1,
)
from hub.db import Database
from hub.failpoints import failpoint
from hub.messaging.outbox import Outbox
from hub.problems import Problem
from services.referral import store
from services.referral.actors import SYSTEM, Actor
from services.referral.clock import Clock
from services.referral.config import ReferralConfig
from services.referral.domain.calendar import YearSchedule, business_tz
from services.referral.domain.centres import Centre, CentreLevel, area_contains, redact_reason
from services.referral.domain.codes import Colour, ResponseLevel
from services.referral.domain.deadlines import (
    Deadline,
    DeadlineKind,
    ExtensionRefused,
    ExternalLimit,
    Procedure,
    acceptance_deadline,
    acknowledge_deadline,
    check_extension_request,
    default_response_level,
    grant_extension,
    handling_deadline,
    meeting_deadline,
    procedure_document,
    procedure_for,
    recompute,
    return_window,
)
from services.referral.domain.lifecycle import (
    CASE_MACHINE,
    REFERRAL_MACHINE,
    CaseAction,
    CaseState,
    ReferralAction,
    ReferralState,
    ReferralStatus,
    TransitionRefused,
    apply_referral,
    rating_action,
    referral_allowed_actions,
)
from services.referral.domain.routing import (
    AreaLevel,
    ManualQueue,
    RoutingDecision,
    Unit,
    area_level,
    route,
)
from services.referral.domain.supervision import LADDER, Level, apply_urge, higher
from services.referral.metrics import ReferralMetrics
from services.referral.tables import (
    audit_log,
    cases,
    centre_moves,
    deadlines,
    dispatch_queue,
    extension_requests,
    holiday_schedules,
    meetings,
    referrals,
    suspensions,
)

log = logging.getLogger("hub.referral")

# The state an external or department action leads to, for the "late or repeated update" check.
_REFERRAL_TARGET = {
    ReferralAction.acknowledge: ReferralState.acknowledged,
    ReferralAction.start: ReferralState.in_progress,
    ReferralAction.return_: ReferralState.returned,
    ReferralAction.request_extension: ReferralState.extension_requested,
    ReferralAction.reply: ReferralState.replied,
}
_STAGE = {
    "acknowledge": "acknowledge",
    "acceptance": "acknowledge",
    "handling": "handling",
    "meeting": "handling",
}
ONWARD_OUTCOMES = ("unresolved", "referred_to_litigation")


class Workflow:
    def __init__(
        self,
        config: ReferralConfig,
        clock: Clock,
        outbox: Outbox,
        *,
        audit_key: str = "",
        metrics: ReferralMetrics | None = None,
        channel_returns: Sequence[str] = ("hotline12345",),
    ) -> None:
        self.config = config
        self.channel_returns = frozenset(channel_returns)  # channels a case can be given back to (回退)
        self.clock = clock
        self.outbox = outbox
        self.audit_key = audit_key
        self.metrics = metrics or ReferralMetrics()
        self._warned_years: set[int] = set()
        self._schedule_marker: tuple[int, datetime | None] | None = None

    async def record(
        self, session: AsyncSession, actor: Actor, action: str, case_no: str | None, detail: dict[str, Any]
    ) -> None:
        """Append to referral's audit log inside the current transaction (call it last)."""
        await audit.append(
            session,
            audit_log,
            key=self.audit_key,
            actor_role=actor.role,
            actor_id=actor.department,
            action=action,
            case_no=case_no,
            detail=detail,
            at=self.clock(),
        )

    # --- plumbing ---------------------------------------------------------------------------------

    async def emit(self, session: AsyncSession, event: Contract, actor: Actor, **extra: Any) -> None:
        data = event.model_dump(mode="json") | actor.fields() | extra
        await self.outbox.emit(session, event.TYPE, data.get("case_no"), data)

    def unit(self, code: str) -> Unit:
        try:
            return self.config.registry.unit(code)
        except KeyError:
            raise Problem(
                422,
                "未知单位",
                f"没有编码为 {code} 的单位",
                type_="validation-error",
                errors=[{"field": "department", "message": f"unknown unit {code}"}],
            ) from None

    def _note_provisional(self, found: Sequence[Deadline]) -> None:
        years = set().union(*(d.provisional_years for d in found)) - self._warned_years
        if years:
            self._warned_years |= years
            log.warning(
                "deadlines computed over %s count weekends only (no official holiday schedule): "
                "flagged provisional until the schedule is loaded",
                ", ".join(str(y) for y in sorted(years)),
            )

    async def _warn_provisional(
        self,
        session: AsyncSession,
        case_no: str,
        referral_id: str,
        found: Sequence[Deadline],
        actor: Actor,
    ) -> None:
        """Ops are warned: a log line (no personal data), a metric and an event per referral."""
        self._note_provisional(found)
        years = sorted(set().union(*(d.provisional_years for d in found)))
        for year in years:
            self.metrics.provisional_deadlines.labels(year=str(year)).inc()
        event = DeadlinesProvisionalV1(case_no=case_no, referral_id=referral_id, years=years)
        await self.emit(session, event, actor)

    async def case_or_404(self, session: AsyncSession, case_no: str) -> Row[Any]:
        case = await store.lock_case(session, case_no)
        if case is None:
            raise Problem(
                404, "未找到该事项", f"分流服务中没有编号为 {case_no} 的事项", type_="case-not-found"
            )
        return case

    async def referral_for(
        self, session: AsyncSession, referral_id: str, actor: Actor
    ) -> tuple[Row[Any], Row[Any]]:
        """The case and referral, locked in that order; another department's referral is 404."""
        found = await store.find_referral(session, referral_id)
        if found is None or (actor.is_department and found.department != actor.department):
            raise Problem(404, "未找到该转办", f"没有编号为 {referral_id} 的转办", type_="referral-not-found")
        case = await self.case_or_404(session, found.case_no)
        referral = await store.lock_referral(session, referral_id)
        assert referral is not None
        return case, referral

    # --- routing and dispatch (吹哨) ---------------------------------------------------------------

    def route_case(self, case: Row[Any]) -> RoutingDecision | ManualQueue:
        """Route within the holding centre's area: by the case's location while the case is at its home
        centre, by the centre's own area once it was escalated (上报) or delegated (下派) elsewhere."""
        street, district, community = case.street_code, None, None
        centre = self.centre_of(case)
        home = self.config.centres.home_for(case.street_code) if case.street_code else None
        level = centre.level.value if centre is not None else None
        if centre is not None and (home is None or home.id != centre.id):
            street = centre.area
        if street:
            try:
                level = area_level(street)
            except ValueError:
                level = None
            if level is AreaLevel.community:
                street, community = None, street
            elif level is AreaLevel.district:
                street, district = None, street
        return route(
            case.category,
            street,
            district,
            self.config.registry,
            self.config.rules,
            community_code=community,
            centre_level=level,
        )

    async def route_and_dispatch(
        self, session: AsyncSession, case: Row[Any], actor: Actor, now: datetime
    ) -> bool:
        decision = self.route_case(case)
        if isinstance(decision, ManualQueue):
            await self.queue(
                session,
                case.case_no,
                decision.reason.value,
                f"{decision.reason.value}: {decision.detail}",
                now,
                actor,
            )
            return False
        await self.dispatch(
            session, case, decision.lead, decision.assisting, actor, now, rule_id=decision.rule_id
        )
        return True

    async def dispatch(
        self,
        session: AsyncSession,
        case: Row[Any],
        lead: Unit,
        assisting: Sequence[Unit],
        actor: Actor,
        now: datetime,
        *,
        rule_id: str | None = None,
    ) -> None:
        """Dispatch (or re-route) the case's current round to ``lead`` + ``assisting``.

        Open referrals of departments still wanted carry on (their role may change); those no longer
        wanted are cancelled; the others get new referrals with fresh deadlines.
        """
        wanted: dict[str, tuple[Unit, str]] = {lead.code: (lead, "lead")}
        for unit in assisting:
            wanted.setdefault(unit.code, (unit, "assisting"))
        state = CASE_MACHINE.apply(case.status, CaseAction.dispatch)
        level = _effective_level(case.intake_response_level, case.colour, len(wanted))
        procedure = self.config.book.for_category(case.category)
        kept: dict[str, Row[Any]] = {}
        for referral in await store.open_referrals(session, case.case_no):
            if referral.round == case.round and referral.department in wanted:
                kept[referral.department] = referral
            else:
                await self.cancel_referral(session, referral, "rerouted", actor, now)
        lead_due: datetime | None = None
        lead_started = False
        for code, (unit, role) in wanted.items():
            if code in kept:
                row = kept[code]
                if row.role != role:
                    await self._change_role(session, case, row, role, level, procedure, now)
                if role == "lead":
                    lead_due = row.due_at
                    lead_started = row.status != ReferralState.dispatched.value
                continue
            due = await self._create_referral(
                session, case, unit, role, level, procedure, actor, now, rule_id
            )
            if role == "lead":
                lead_due = due
        if lead_started:
            state = CASE_MACHINE.apply(state, CaseAction.start)
        await session.execute(
            update(cases)
            .where(cases.c.case_no == case.case_no)
            .values(status=state.value, response_level=level.value, manual_reason=None, updated_at=now)
        )
        await self.resolve_queue(session, case.case_no, now)
        assert lead_due is not None
        event = CaseDispatchedV1(
            case_no=case.case_no,
            lead=lead.code,
            assisting=[code for code, (_, role) in wanted.items() if role == "assisting"],
            due_at=lead_due,
        )
        await self.emit(session, event, actor, round=case.round, response_level=level.value, rule_id=rule_id)

    async def _change_role(
        self,
        session: AsyncSession,
        case: Row[Any],
        referral: Row[Any],
        role: str,
        level: ResponseLevel,
        procedure: Procedure,
        now: datetime,
    ) -> None:
        """A department kept across a re-route becomes lead (it takes on the lead's meeting and
        acceptance deadlines, counted from its dispatch) or assisting (it sheds them)."""
        await session.execute(
            update(referrals).where(referrals.c.id == referral.id).values(role=role, updated_at=now)
        )
        await self._bind_external(
            session, case, referral, external_limit_of(case) if role == "lead" else None, now
        )
        lead_only = [DeadlineKind.meeting.value, DeadlineKind.acceptance.value]
        if role != "lead":
            await store.close_deadlines(session, referral.id, now, kinds=lead_only)
            return
        cal, started = self.config.calendar, referral.dispatched_at
        extra = [
            d
            for d in (
                meeting_deadline(procedure, level, started, cal),
                acceptance_deadline(procedure, started, cal),
            )
            if d is not None
        ]
        if referral.status != ReferralState.dispatched.value:  # acknowledged: accepted already
            extra = [d for d in extra if d.kind is not DeadlineKind.acceptance]
        if extra:
            await session.execute(
                deadlines.insert(),
                [
                    store.deadline_values(
                        d,
                        case_no=case.case_no,
                        referral_id=referral.id,
                        department=referral.department,
                        next_check_at=store.next_check(
                            self.config, d.started_at, d.due_at, now, Level.none, d.clock
                        ),
                        now=now,
                    )
                    for d in extra
                ],
            )

    async def _create_referral(
        self,
        session: AsyncSession,
        case: Row[Any],
        unit: Unit,
        role: str,
        level: ResponseLevel,
        procedure: Procedure,
        actor: Actor,
        now: datetime,
        rule_id: str | None,
    ) -> datetime:
        cal = self.config.calendar
        ack = acknowledge_deadline(procedure, Colour(case.colour), now, cal)
        external = external_limit_of(case) if role == "lead" else None
        handling = handling_deadline(procedure, level, now, cal, external=external, floor=ack.due_at)
        window = return_window(procedure, now, cal)
        ladder = [ack, handling]
        if role == "lead":
            ladder += [
                d
                for d in (
                    meeting_deadline(procedure, level, now, cal),
                    acceptance_deadline(procedure, now, cal),
                )
                if d
            ]
        provisional = any(d.provisional for d in [*ladder, window])
        referral_id = str(uuid.uuid4())
        await session.execute(
            referrals.insert().values(
                id=referral_id,
                case_no=case.case_no,
                round=case.round,
                department=unit.code,
                department_name=unit.name_zh,
                role=role,
                status=ReferralState.dispatched.value,
                suspended=False,
                procedure_id=procedure.id,
                procedure_version=procedure.version,
                response_level=level.value,
                rule_id=rule_id,
                dispatched_at=now,
                ack_due_at=ack.due_at,
                due_at=handling.due_at,
                return_until=window.due_at,
                deadline_provisional=provisional,
                supervision_level=Level.none.value,
                updated_at=now,
                centre_id=case.centre_id,
                procedure_snapshot=procedure_document(procedure),
            )
        )
        rows = [
            store.deadline_values(
                d,
                case_no=case.case_no,
                referral_id=referral_id,
                department=unit.code,
                next_check_at=store.next_check(self.config, d.started_at, d.due_at, now, Level.none, d.clock),
                now=now,
            )
            for d in ladder
        ]
        rows.append(
            store.deadline_values(
                window,
                case_no=case.case_no,
                referral_id=referral_id,
                department=unit.code,
                next_check_at=None,
                now=now,
            )
        )
        await session.execute(deadlines.insert(), rows)
        event = ReferralDispatchedV1(
            referral_id=referral_id,
            case_no=case.case_no,
            department=unit.code,
            department_name=unit.name_zh,
            role=role,
            colour=case.colour,
            category=case.category,
            ack_due_at=ack.due_at,
            due_at=handling.due_at,
            deadline_provisional=provisional,
            case_trace_id=case.trace_id,
        )
        await self.emit(
            session,
            event,
            actor,
            round=case.round,
            response_level=level.value,
            procedure=f"{procedure.id}@v{procedure.version}",
            return_until=window.due_at.isoformat(),
        )
        if provisional:
            await self._warn_provisional(session, case.case_no, referral_id, [*ladder, window], actor)
        return handling.due_at

    async def queue(
        self,
        session: AsyncSession,
        case_no: str,
        reason_code: str,
        reason: str,
        now: datetime,
        actor: Actor,
        *,
        referral_id: str | None = None,
        department: str | None = None,
    ) -> None:
        """Put the case in the dispatcher's queue with why (never nowhere, never lost)."""
        await session.execute(
            dispatch_queue.insert().values(
                case_no=case_no,
                reason_code=reason_code,
                reason=reason,
                referral_id=referral_id,
                department=department,
                queued_at=now,
            )
        )
        await session.execute(
            update(cases).where(cases.c.case_no == case_no).values(manual_reason=reason, updated_at=now)
        )
        event_reason = f"{reason_code}:{department}" if department else reason
        await self.emit(
            session,
            CaseQueuedForDispatcherV1(case_no=case_no, reason=event_reason),
            actor,
            reason_code=reason_code,
        )

    async def resolve_queue(self, session: AsyncSession, case_no: str, now: datetime) -> None:
        await session.execute(
            update(dispatch_queue)
            .where(dispatch_queue.c.case_no == case_no, dispatch_queue.c.resolved_at.is_(None))
            .values(resolved_at=now)
        )

    async def cancel_referral(
        self, session: AsyncSession, referral: Row[Any], reason: str, actor: Actor, now: datetime
    ) -> None:
        apply_referral(store.status_of(referral), ReferralAction.cancel)
        await session.execute(
            update(referrals)
            .where(referrals.c.id == referral.id)
            .values(
                status=ReferralState.cancelled.value,
                suspended=False,
                cancelled_at=now,
                cancel_reason=reason,
                updated_at=now,
            )
        )
        await store.close_deadlines(session, referral.id, now)
        await self._end_suspension(session, referral.id, now)
        event = ReferralCancelledV1(
            referral_id=referral.id,
            case_no=referral.case_no,
            department=referral.department,
            reason=reason,  # type: ignore[arg-type]
        )
        await self.emit(session, event, actor)

    # --- manual dispatch by the centre ----------------------------------------------------------------

    async def manual_dispatch(
        self,
        session: AsyncSession,
        case_no: str,
        lead_code: str,
        assisting_codes: Sequence[str],
        actor: Actor,
    ) -> None:
        actor.require("centre")
        unknown = [
            {"field": field, "message": f"unknown unit {code}"}
            for field, code in [
                ("lead", lead_code),
                *((f"assisting.{i}", c) for i, c in enumerate(assisting_codes)),
            ]
            if code not in self.config.registry.units
        ]
        if unknown:
            raise Problem(
                422,
                "未知单位",
                "以下单位编码不存在: " + ", ".join(e["message"].split()[-1] for e in unknown),
                type_="validation-error",
                errors=unknown,
            )
        case = await self.case_or_404(session, case_no)
        CASE_MACHINE.apply(case.status, CaseAction.dispatch)  # 409 before anything is written
        lead = self.unit(lead_code)
        assisting = [self.unit(c) for c in dict.fromkeys(assisting_codes) if c != lead_code]
        await self.dispatch(session, case, lead, assisting, actor, self.clock())

    # --- department actions ---------------------------------------------------------------------------

    def _decide(self, referral: Row[Any], action: ReferralAction) -> ReferralStatus | None:
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
        self, session: AsyncSession, referral: Row[Any], new: ReferralStatus, now: datetime, **values: Any
    ) -> None:
        await session.execute(
            update(referrals)
            .where(referrals.c.id == referral.id)
            .values(status=new.state.value, suspended=new.suspended, updated_at=now, **values)
        )

    async def acknowledge(self, session: AsyncSession, referral_id: str, actor: Actor) -> bool:
        actor.require("department", "centre")
        case, referral = await self.referral_for(session, referral_id, actor)
        new = self._decide(referral, ReferralAction.acknowledge)
        if new is None:
            return False
        now = self.clock()
        await self._set_status(session, referral, new, now, acknowledged_at=now)
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
        await self.emit(session, event, actor)
        if referral.role == "lead" and case.status == CaseState.dispatched.value:
            await self._case_status(session, case, CaseAction.start, now)
        return True

    async def start(self, session: AsyncSession, referral_id: str, actor: Actor) -> bool:
        actor.require("department", "centre")
        _case, referral = await self.referral_for(session, referral_id, actor)
        new = self._decide(referral, ReferralAction.start)
        if new is None:
            return False
        now = self.clock()
        await self._set_status(session, referral, new, now)
        await self.emit(
            session,
            ReferralStartedV1(
                referral_id=referral.id, case_no=referral.case_no, department=referral.department
            ),
            actor,
        )
        return True

    async def return_referral(
        self, session: AsyncSession, referral_id: str, reason_code: str, reason: str, actor: Actor
    ) -> bool:
        actor.require("department", "centre")
        case, referral = await self.referral_for(session, referral_id, actor)
        new = self._decide(referral, ReferralAction.return_)
        if new is None:
            return False
        now = self.clock()
        if now >= referral.return_until:
            allowed = [a for a in referral_allowed_actions(store.status_of(referral)) if a != "return"]
            raise Problem(
                409,
                "已超过退回时限",
                f"退回须在派发后 2 个工作日内（截至 {referral.return_until.isoformat()}）；当前状态 "
                f"{referral.status}，可执行: {', '.join(allowed)}",
                type_="return-window-closed",
                current_state=referral.status,
                action="return",
                allowed_actions=allowed,
                return_until=referral.return_until.isoformat(),
            )
        await self._set_status(
            session, referral, new, now, returned_at=now, return_reason_code=reason_code, return_reason=reason
        )
        await store.close_deadlines(session, referral.id, now)
        await self._end_suspension(session, referral.id, now)
        event = ReferralReturnedV1(
            referral_id=referral.id,
            case_no=referral.case_no,
            department=referral.department,
            role=referral.role,
            reason_code=reason_code,  # type: ignore[arg-type]
            returned_at=now,
        )
        await self.emit(session, event, actor)
        await self.queue(
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
        _case, referral = await self.referral_for(session, referral_id, actor)
        new = self._decide(referral, ReferralAction.request_extension)
        if new is None:
            return False
        now = self.clock()
        row, deadline, procedure = await self._handling(session, referral)
        try:
            check_extension_request(procedure, deadline, amount, now)
        except ExtensionRefused as exc:
            raise _extension_problem(exc) from None
        await self._set_status(session, referral, new, now)
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
            asked = self.config.calendar.add(
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
        await self.emit(session, event, actor, department_name=referral.department_name)
        return True

    async def decide_extension(
        self, session: AsyncSession, referral_id: str, approved: bool, note: str | None, actor: Actor
    ) -> bool:
        actor.require("centre")
        _case, referral = await self.referral_for(session, referral_id, actor)
        pending = (
            await session.execute(
                select(extension_requests)
                .where(extension_requests.c.referral_id == referral.id)
                .order_by(extension_requests.c.id.desc())
                .limit(1)
            )
        ).first()
        status = store.status_of(referral)
        if status.state is not ReferralState.extension_requested:
            if pending is not None and pending.decided_at is not None and pending.approved == approved:
                return False  # the same decision again
            REFERRAL_MACHINE.apply(
                status.state, ReferralAction.approve_extension if approved else ReferralAction.deny_extension
            )
        assert pending is not None and pending.decided_at is None
        now = self.clock()
        action = ReferralAction.approve_extension if approved else ReferralAction.deny_extension
        new = apply_referral(status, action)
        row, deadline, procedure = await self._handling(session, referral)
        new_due: datetime | None = None
        if approved:
            try:
                extended = grant_extension(procedure, deadline, pending.amount, self.config.calendar)
            except ExtensionRefused as exc:
                raise _extension_problem(exc) from None
            new_due = extended.due_at
            await self._update_handling(
                session, referral, row, extended, now, paused=bool(referral.suspended)
            )
        await self._set_status(session, referral, new, now, **({"due_at": new_due} if new_due else {}))
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
        await self.emit(session, event, actor)
        return True

    async def suspend(self, session: AsyncSession, referral_id: str, reason: str, actor: Actor) -> bool:
        actor.require("department", "centre")
        _case, referral = await self.referral_for(session, referral_id, actor)
        new = self._decide(referral, ReferralAction.suspend)
        if new is None:
            return False
        now = self.clock()
        if referral.status == ReferralState.acknowledged.value:
            await self.emit(
                session,
                ReferralStartedV1(
                    referral_id=referral.id, case_no=referral.case_no, department=referral.department
                ),
                actor,
            )
        await self._set_status(session, referral, new, now)
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
        await self.emit(session, event, actor)
        return True

    async def resume(self, session: AsyncSession, referral_id: str, actor: Actor) -> bool:
        actor.require("department", "centre")
        _case, referral = await self.referral_for(session, referral_id, actor)
        new = self._decide(referral, ReferralAction.resume)
        if new is None:
            return False
        now = self.clock()
        await self._end_suspension(session, referral.id, now)
        row, deadline, _procedure = await self._handling(session, referral)
        moved = recompute(deadline, self.config.calendar, pauses=await store.pauses_of(session, referral.id))
        await self._update_handling(session, referral, row, moved, now, paused=False)
        await self._set_status(session, referral, new, now, due_at=moved.due_at)
        event = ReferralResumedV1(
            referral_id=referral.id,
            case_no=referral.case_no,
            department=referral.department,
            resumed_at=now,
            due_at=moved.due_at,
        )
        await self.emit(session, event, actor)
        return True

    async def reply(
        self, session: AsyncSession, referral_id: str, outcome: str, summary: str, actor: Actor
    ) -> bool:
        actor.require("department", "centre")
        case, referral = await self.referral_for(session, referral_id, actor)
        new = self._decide(referral, ReferralAction.reply)
        if new is None:
            return False
        now = self.clock()
        await self._set_status(
            session, referral, new, now, replied_at=now, reply_outcome=outcome, reply_summary=summary
        )
        await store.close_deadlines(
            session, referral.id, now, kinds=[DeadlineKind.handling.value], status="met"
        )
        await store.close_deadlines(session, referral.id, now)
        await self._end_suspension(session, referral.id, now)
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
        await self.emit(session, event, actor)
        if referral.role != "lead" or referral.round != case.round:
            return True  # an assisting reply is attached to the case, which waits for its lead
        state = CaseState(case.status)
        if state is CaseState.dispatched:
            state = await self._case_status(session, case, CaseAction.start, now)
        if CaseAction.reply_received not in CASE_MACHINE.allowed_actions(state):
            return True
        await self._case_status(
            session, case, CaseAction.reply_received, now, reply_outcome=outcome, replied_at=now
        )
        replied = CaseRepliedV1(
            case_no=case.case_no, lead_department_name=referral.department_name, replied_at=now
        )
        await self.emit(session, replied, actor, lead_department=referral.department, outcome=outcome)
        if case.anonymous:
            # No SMS, no callback for an anonymous reporter: the case closes on the reply (RULES.md).
            case = await self.case_or_404(session, case.case_no)
            await self._close(session, case, CaseAction.close, "anonymous_reporter", None, SYSTEM, now)
        return True

    # --- case actions by the centre -----------------------------------------------------------------

    async def callback(
        self,
        session: AsyncSession,
        case_no: str,
        satisfaction: str,
        comment: str | None,
        actor: Actor,
        *,
        via: str = "staff",
    ) -> bool:
        """A rating (回访): satisfied or basically satisfied closes the case, dissatisfied reopens it and
        dispatches round N+1 to the departments of round N."""
        case = await self.case_or_404(session, case_no)
        rating = rating_action(satisfaction)
        target = CaseState.reopened if rating is CaseAction.rate_dissatisfied else CaseState.closed
        current = CaseState(case.status)
        if current is target or CASE_MACHINE.is_regression(current, target):
            return False
        if current is CaseState.replied:
            CASE_MACHINE.apply(
                CASE_MACHINE.apply(current, CaseAction.callback_requested), rating
            )  # 409 first
            current = await self._case_status(session, case, CaseAction.callback_requested, self.clock())
        else:
            CASE_MACHINE.apply(current, rating)
        now = self.clock()
        await session.execute(
            update(cases)
            .where(cases.c.case_no == case_no)
            .values(satisfaction=satisfaction, callback_comment=comment, rated_at=now, updated_at=now)
        )
        if target is CaseState.closed:
            case = await self.case_or_404(session, case_no)
            await self._close(session, case, rating, "callback", satisfaction, actor, now, via=via)
            return True
        await self._case_status(session, case, rating, now)
        await self.reopen_and_redispatch(session, case_no, actor, now, satisfaction=satisfaction, via=via)
        return True

    async def reopen_and_redispatch(
        self,
        session: AsyncSession,
        case_no: str,
        actor: Actor,
        now: datetime,
        *,
        satisfaction: str | None,
        via: str,
    ) -> None:
        case = await self.case_or_404(session, case_no)
        previous = (
            await session.execute(
                select(referrals)
                .where(
                    referrals.c.case_no == case_no,
                    referrals.c.round == case.round,
                    referrals.c.status.notin_([ReferralState.returned.value, ReferralState.cancelled.value]),
                )
                .order_by(referrals.c.dispatched_at)
            )
        ).all()
        new_round = case.round + 1
        await session.execute(
            update(cases).where(cases.c.case_no == case_no).values(round=new_round, updated_at=now)
        )
        await self.emit(
            session,
            CaseReopenedV1(case_no=case_no, round=new_round, satisfaction=satisfaction, reopened_at=now),
            actor,
            via=via,
        )
        case = await self.case_or_404(session, case_no)
        lead = next(
            (r for r in previous if r.role == "lead" and r.department in self.config.registry.units), None
        )
        if lead is None:
            await self.route_and_dispatch(session, case, SYSTEM, now)
            return
        assisting = [
            self.config.registry.units[r.department]
            for r in previous
            if r.role == "assisting" and r.department in self.config.registry.units
        ]
        await self.dispatch(
            session, case, self.config.registry.units[lead.department], assisting, SYSTEM, now
        )

    async def close(self, session: AsyncSession, case_no: str, reason: str | None, actor: Actor) -> bool:
        actor.require("centre")
        case = await self.case_or_404(session, case_no)
        if case.status == CaseState.closed.value:
            return False
        CASE_MACHINE.apply(case.status, CaseAction.close)
        await self._close(session, case, CaseAction.close, reason or "centre", None, actor, self.clock())
        return True

    async def withdraw(self, session: AsyncSession, case_no: str, reason: str, actor: Actor) -> bool:
        actor.require("centre", "adapter")
        case = await self.case_or_404(session, case_no)
        if case.status == CaseState.withdrawn.value:
            return False
        CASE_MACHINE.apply(case.status, CaseAction.withdraw)
        now = self.clock()
        await self._finish(
            session, case, CaseAction.withdraw, now, actor, "case_withdrawn", withdraw_reason=reason
        )
        await self.emit(session, CaseWithdrawnV1(case_no=case_no, withdrawn_at=now), actor)
        return True

    async def assessment_changed(
        self, session: AsyncSession, case_no: str, colour: str, category: str | None
    ) -> bool | None:
        """Intake re-graded the case (a supervisor's override or a category correction): the case's
        colour and category follow, so lists, statistics and stalls show the current grading; a case
        raised to red is put before the district at once, as a red registration is. Running deadlines
        keep what they started under. None: the case has not reached referral yet."""
        case = await store.lock_case(session, case_no)
        if case is None:
            return None
        values: dict[str, Any] = {}
        if colour != case.colour:
            values["colour"] = colour
        if category and category != case.category:
            values["category"] = category
        if not values:
            return False
        now = self.clock()
        await session.execute(
            update(cases).where(cases.c.case_no == case_no).values(**values, updated_at=now)
        )
        holding = self.centre_of(case)
        if holding is not None and not CASE_MACHINE.is_final(case.status):
            await self._alert_district_if_red(session, case_no, colour, holding, now)
        return True

    async def return_to_channel(
        self, session: AsyncSession, case_no: str, reason_code: str, reason: str, actor: Actor
    ) -> bool:
        """回退: the centre decides a case from a channel that takes returns (12345) is not the hub's;
        it goes back to that channel with a coded reason (the gateway tells 12345), its open referrals
        are cancelled. Allowed until the lead has replied."""
        actor.require("centre")
        case = await self.case_or_404(session, case_no)
        if case.status == CaseState.returned_to_channel.value:
            return False
        if case.channel not in self.channel_returns:
            raise Problem(
                409,
                "该来源渠道不支持回退",
                f"事项 {case_no} 来自 {case.channel}，只有来自 {'、'.join(sorted(self.channel_returns)) or '无'} "
                "的事项可以回退；本平台受理的事项请撤回（withdraw）或由部门退回（return）",
                type_="channel-not-returnable",
                channel=case.channel,
                returnable_channels=sorted(self.channel_returns),
            )
        CASE_MACHINE.apply(case.status, CaseAction.return_to_channel)  # 409 after a reply
        now = self.clock()
        text = redact_reason(reason.strip())
        await self._finish(
            session,
            case,
            CaseAction.return_to_channel,
            now,
            actor,
            "case_returned",
            channel_return_code=reason_code,
            channel_return_reason=text,
        )
        event = CaseReturnedToChannelV1(
            case_no=case_no,
            channel=case.channel,
            reason_code=reason_code,  # type: ignore[arg-type]
            reason=text,
            returned_at=now,
        )
        await self.emit(session, event, actor)
        await self.record(
            session,
            actor,
            "case.returned_to_channel",
            case_no,
            {"channel": case.channel, "reason_code": reason_code, "from_status": case.status},
        )
        return True

    async def external_extension_answered(
        self,
        session: AsyncSession,
        case_no: str,
        *,
        source: str,
        approved: bool,
        limit: datetime | None,
        external_id: str | None,
        note: str | None,
        actor: Actor,
    ) -> bool | None:
        """The channel answered an extension request on its limit (12345 延期审核). Approved: the case's
        `due_by` becomes the new limit and the lead's handling deadline is recomputed under it (the
        earlier of ours and theirs again; the supervision ladder follows). Denied: recorded, nothing
        moves. None: the case has not reached referral yet."""
        case = await store.lock_case(session, case_no)
        if case is None:
            return None
        now = self.clock()
        note = redact_reason(note) if note else None
        lead = next(
            (r for r in await store.open_referrals(session, case_no, round_=case.round) if r.role == "lead"),
            None,
        )
        moved: tuple[datetime, datetime] | None = None
        if approved and limit is not None:
            await session.execute(
                update(cases)
                .where(cases.c.case_no == case_no)
                .values(due_by=limit, due_by_source=source, updated_at=now)
            )
            if lead is not None and case.round == 1:
                moved = await self._bind_external(session, case, lead, ExternalLimit(limit, source), now)
        due_by = limit if approved and limit is not None else case.due_by
        event = CaseExternalExtensionAnsweredV1(
            case_no=case_no,
            source=source,
            approved=approved,
            due_by=due_by,
            previous_due_by=case.due_by,
            referral_id=lead.id if lead is not None else None,
            department=lead.department if lead is not None else None,
            due_at=moved[1] if moved else (lead.due_at if lead is not None else None),
            previous_due_at=moved[0] if moved else None,
            external_id=external_id,
            note=note,
        )
        await self.emit(session, event, actor)
        await self.record(
            session,
            actor,
            "case.due_by_extended" if approved else "case.due_by_extension_denied",
            case_no,
            {
                "source": source,
                "external_id": external_id,
                "due_by": due_by.isoformat() if due_by else None,
                "previous_due_by": case.due_by.isoformat() if case.due_by else None,
                "lead_due_at": event.due_at.isoformat() if event.due_at else None,
            },
        )
        return True

    async def _bind_external(
        self,
        session: AsyncSession,
        case: Row[Any],
        referral: Row[Any],
        external: ExternalLimit | None,
        now: datetime,
    ) -> tuple[datetime, datetime] | None:
        """Put the referral's open handling deadline under ``external`` (None: ours alone) and recompute
        it; (before, after) when it changed."""
        rows = await store.referral_deadlines(session, referral.id, kinds=[DeadlineKind.handling.value])
        if not rows:
            return None
        row = rows[0]
        deadline = store.to_domain(row, await store.pauses_of(session, referral.id))
        if deadline.external == external:
            return None
        floor = deadline.floor or referral.ack_due_at
        fresh = recompute(replace(deadline, external=external, floor=floor), self.config.calendar)
        await self._update_handling(session, referral, row, fresh, now, paused=bool(referral.suspended))
        await session.execute(
            update(referrals).where(referrals.c.id == referral.id).values(due_at=fresh.due_at, updated_at=now)
        )
        return row.due_at, fresh.due_at

    async def merged(
        self,
        session: AsyncSession,
        case_no: str,
        into: str,
        actor: Actor,
        *,
        limits: Sequence[tuple[datetime, str]] = (),
    ) -> bool:
        """The case was merged into ``into``: its referrals end; the channel limits it carried (its own
        12345 办理时限 and those it had taken over) bind ``into`` where they are earlier than its own."""
        case = await store.lock_case(session, case_no)
        if case is None:
            return False
        current = CaseState(case.status)
        if current is CaseState.merged or CASE_MACHINE.is_final(current):
            return False
        now = self.clock()
        await self._finish(session, case, CaseAction.merge, now, actor, "case_merged", merged_into=into)
        if limits:
            await self._take_over_limit(session, into, min(limits), case_no, actor, now)
        return True

    async def _take_over_limit(
        self,
        session: AsyncSession,
        into: str,
        limit: tuple[datetime, str],
        from_case: str,
        actor: Actor,
        now: datetime,
    ) -> None:
        target = await store.lock_case(session, into)
        if target is None or CASE_MACHINE.is_final(target.status):
            return
        due_by, source = limit
        if target.due_by is not None and target.due_by <= due_by:
            return  # its own limit is already the earlier one
        await session.execute(
            update(cases)
            .where(cases.c.case_no == into)
            .values(due_by=due_by, due_by_source=source, updated_at=now)
        )
        moved = None
        lead = next(
            (r for r in await store.open_referrals(session, into, round_=target.round) if r.role == "lead"),
            None,
        )
        if lead is not None and target.round == 1:
            moved = await self._bind_external(session, target, lead, ExternalLimit(due_by, source), now)
        await self.record(
            session,
            actor,
            "case.due_by_taken_over",
            into,
            {
                "from_case": from_case,
                "source": source,
                "due_by": due_by.isoformat(),
                "previous_due_by": target.due_by.isoformat() if target.due_by else None,
                "lead_due_at": moved[1].isoformat() if moved else None,
            },
        )

    async def refer_onward(self, session: AsyncSession, case_no: str, to: str, actor: Actor) -> bool:
        actor.require("centre")
        case = await self.case_or_404(session, case_no)
        if case.referred_onward_to == to:
            return False
        allowed_states = (CaseState.replied.value, CaseState.callback.value, CaseState.closed.value)
        if (
            case.status not in allowed_states
            or case.referred_onward_to
            or case.reply_outcome not in ONWARD_OUTCOMES
        ):
            raise Problem(
                409,
                "不能转入仲裁或诉讼",
                "只有牵头部门答复为 unresolved 或 referred_to_litigation 的事项（状态 replied、callback 或 closed）"
                f"才能转出，且只能转出一次；当前状态 {case.status}，答复结果 {case.reply_outcome or '无'}，"
                f"可执行的操作: {'、'.join(a.value for a in CASE_MACHINE.allowed_actions(case.status)) or '无'}",
                type_="transition-refused",
                current_state=case.status,
                action="refer_onward",
                allowed_actions=[a.value for a in CASE_MACHINE.allowed_actions(case.status)],
            )
        now = self.clock()
        await session.execute(
            update(cases)
            .where(cases.c.case_no == case_no)
            .values(referred_onward_to=to, referred_onward_at=now, updated_at=now)
        )
        event = CaseReferredToCourtV1(
            case_no=case_no,
            to=to,  # type: ignore[arg-type]
            outcome=case.reply_outcome,
            category=case.category,
            colour=case.colour,
            street_code=case.street_code,
            referred_at=now,
        )
        await self.emit(session, event, actor)
        return True

    async def record_meeting(
        self,
        session: AsyncSession,
        case_no: str,
        held_at: datetime,
        departments: Sequence[str],
        decisions: Sequence[str],
        actor: Actor,
    ) -> bool:
        actor.require("centre")
        unknown = [
            {"field": f"departments.{i}", "message": f"unknown unit {code}"}
            for i, code in enumerate(departments)
            if code not in self.config.registry.units
        ]
        if unknown:
            raise Problem(422, "未知单位", "参会单位编码不存在", type_="validation-error", errors=unknown)
        case = await self.case_or_404(session, case_no)
        if CASE_MACHINE.is_final(case.status):
            raise TransitionRefused("case", case.status, "record_meeting", [])
        now = self.clock()
        await session.execute(
            meetings.insert().values(
                case_no=case_no,
                held_at=held_at,
                departments=list(departments),
                decisions=list(decisions),
                recorded_at=now,
                actor_role=actor.role,
            )
        )
        await session.execute(
            update(deadlines)
            .where(
                deadlines.c.case_no == case_no,
                deadlines.c.kind == DeadlineKind.meeting.value,
                deadlines.c.status == "open",
            )
            .values(status="met", met_at=now, next_check_at=None, updated_at=now)
        )
        await self.emit(
            session, CaseMeetingHeldV1(case_no=case_no, held_at=held_at, departments=list(departments)), actor
        )
        return True

    # --- supervision: urges (催办) ------------------------------------------------------------------

    async def urge(self, session: AsyncSession, case_no: str, actor: Actor) -> int:
        """A 12345 urge moves each open referral of the case one step up its active ladder."""
        case = await store.lock_case(session, case_no)
        if case is None:
            return -1
        now = self.clock()
        raised = 0
        for referral in await store.open_referrals(session, case_no, round_=case.round):
            open_ladders = await store.referral_deadlines(session, referral.id, kinds=store.LADDER_KINDS)
            by_kind = {row.kind: row for row in open_ladders}
            row = by_kind.get(DeadlineKind.acknowledge.value) or by_kind.get(DeadlineKind.handling.value)
            if row is None:
                continue
            current = Level(row.supervision_level)
            new = apply_urge(current)
            if new is current:
                continue
            paused = bool(referral.suspended) and row.kind == DeadlineKind.handling.value
            await self.raise_level(session, case, referral, row, [new], now, actor, urged=True, paused=paused)
            raised += 1
        return raised

    async def raise_level(
        self,
        session: AsyncSession,
        case: Row[Any],
        referral: Row[Any],
        row: Row[Any],
        steps: Sequence[Level],
        now: datetime,
        actor: Actor,
        *,
        urged: bool = False,
        paused: bool = False,
    ) -> None:
        """Record the ladder steps reached on one deadline (one event each) and when to look again."""
        policy = self.config.book.supervision
        overdue_days = {
            Level.yellow_card: policy.yellow_card_after_working_days,
            Level.red_card: policy.red_card_after_working_days,
        }
        for level in steps:
            step = next(s for s in LADDER if s.level is level)
            event = ReferralSupervisionRaisedV1(
                referral_id=referral.id,
                case_no=referral.case_no,
                department=referral.department,
                level=level.value,  # type: ignore[arg-type]
                due_at=row.due_at,
                overdue=overdue_days.get(level, 0),
                stage=_STAGE[row.kind],  # type: ignore[arg-type]
            )
            await self.emit(
                session,
                event,
                actor,
                deadline_kind=row.kind,
                urged=urged,
                round=referral.round,
                colour=case.colour,
                audience=step.audience.value,
                letter_zh=step.letter_zh,
            )
        top = steps[-1]
        start = await store.ladder_start_of(session, self.config, row)
        nxt = (
            None
            if paused
            else store.next_check(self.config, start, row.due_at, now, top, store.clock_of(row))
        )
        await session.execute(
            update(deadlines)
            .where(deadlines.c.id == row.id)
            .values(supervision_level=top.value, next_check_at=nxt, updated_at=now)
        )
        level = higher(Level(referral.supervision_level), top)
        await session.execute(
            update(referrals)
            .where(referrals.c.id == referral.id)
            .values(supervision_level=level.value, updated_at=now)
        )

    # --- tiered centres (分级调处): home centre, 上报 (escalate), 下派 (delegate) ---------------------

    def centre_of(self, case: Row[Any]) -> Centre | None:
        """The centre holding the case; a case registered before centres existed: its home centre."""
        tree = self.config.centres
        if case.centre_id and case.centre_id in tree.centres:
            return tree.get(case.centre_id)
        return tree.home_for(case.street_code)

    async def assign_home_centre(self, session: AsyncSession, case: Row[Any], now: datetime) -> Row[Any]:
        """At registration: the case belongs to the deepest centre of its area; a red case held below the
        district is put before the district centre at once (RULES.md "Tiered centres")."""
        home = self.config.centres.home_for(case.street_code)
        if home is None:
            return case
        await session.execute(update(cases).where(cases.c.case_no == case.case_no).values(centre_id=home.id))
        await session.execute(
            centre_moves.insert().values(
                case_no=case.case_no,
                kind="assigned",
                from_centre=None,
                to_centre=home.id,
                reason=None,
                actor_role=SYSTEM.role,
                at=now,
            )
        )
        event = CaseCentreAssignedV1(
            case_no=case.case_no,
            centre_id=home.id,
            centre_level=home.level.value,
            centre_name=home.name_zh,
        )
        await self.emit(session, event, SYSTEM)
        await self._alert_district_if_red(session, case.case_no, case.colour, home, now)
        fresh = await store.lock_case(session, case.case_no)
        assert fresh is not None
        return fresh

    async def _alert_district_if_red(
        self, session: AsyncSession, case_no: str, colour: str, holding: Centre, now: datetime
    ) -> None:
        if colour != Colour.red.value or holding.level is CentreLevel.district:
            return
        district = self.config.centres.root_of(holding)
        await session.execute(
            update(cases)
            .where(cases.c.case_no == case_no, cases.c.district_alerted_at.is_(None))
            .values(district_alerted_at=now)
        )
        event = CaseDistrictAlertedV1(
            case_no=case_no, district_centre=district.id, holding_centre=holding.id, colour=colour
        )
        await self.emit(session, event, SYSTEM)

    def _refuse_if_final(self, case: Row[Any], action: str) -> None:
        if CASE_MACHINE.is_final(case.status):
            raise TransitionRefused("case", case.status, action, [])

    async def escalate(self, session: AsyncSession, case_no: str, reason: str, actor: Actor) -> bool:
        """上报: the holding centre cannot resolve the case; its parent takes it (reason required) and
        dispatches it within its own area, to its level's units."""
        actor.require("centre")
        if not reason.strip():
            raise Problem(
                422,
                "上报须说明理由",
                "escalating a case needs a reason",
                type_="validation-error",
                errors=[{"field": "reason", "message": "required"}],
            )
        case = await self.case_or_404(session, case_no)
        self._refuse_if_final(case, "escalate")
        here = self.centre_of(case)
        parent = self.config.centres.parent(here) if here is not None else None
        if here is None or parent is None:
            raise Problem(
                409,
                "没有上级中心",
                f"事项 {case_no} 已在最高一级中心（{here.name_zh if here else '未归属中心'}），无法上报",
                type_="no-parent-centre",
                centre_id=here.id if here else None,
            )
        await self._move(session, case, here, parent, "escalated", redact_reason(reason.strip()), actor)
        return True

    async def delegate(
        self, session: AsyncSession, case_no: str, to_centre: str, reason: str | None, actor: Actor
    ) -> bool:
        """下派: hand the case to a centre below the holding one whose area holds the case's location."""
        actor.require("centre")
        tree = self.config.centres
        target = tree.centres.get(to_centre)
        if target is None:
            raise Problem(
                422,
                "未知中心",
                f"没有编码为 {to_centre} 的中心",
                type_="validation-error",
                errors=[{"field": "to_centre", "message": f"unknown centre {to_centre}"}],
            )
        case = await self.case_or_404(session, case_no)
        self._refuse_if_final(case, "delegate")
        here = self.centre_of(case)
        if here is not None and here.id == target.id:
            return False
        if here is None or not tree.is_below(target, here):
            raise Problem(
                409,
                "只能下派给下级中心",
                f"{target.name_zh} 不是 {here.name_zh if here else '未归属中心'} 的下级中心",
                type_="not-a-lower-centre",
            )
        # The location must lie in the target's area, unless it is coarser (a street code only: the
        # centre knows the address lies in that community).
        location = case.street_code
        if location and not (_holds(target.area, location) or _holds(location, target.area)):
            raise Problem(
                409,
                "事项不在该中心辖区",
                f"事项地点 {location} 不在 {target.name_zh}（{target.area}）辖区内",
                type_="outside-centre-area",
            )
        text = redact_reason(reason.strip()) if reason and reason.strip() else None
        await self._move(session, case, here, target, "delegated", text, actor)
        return True

    async def _move(
        self,
        session: AsyncSession,
        case: Row[Any],
        here: Centre,
        target: Centre,
        kind: str,
        reason: str | None,
        actor: Actor,
    ) -> None:
        now = self.clock()
        await session.execute(
            update(cases).where(cases.c.case_no == case.case_no).values(centre_id=target.id, updated_at=now)
        )
        await session.execute(
            centre_moves.insert().values(
                case_no=case.case_no,
                kind=kind,
                from_centre=here.id,
                to_centre=target.id,
                reason=reason,
                actor_role=actor.role,
                at=now,
            )
        )
        event = CaseCentreMovedV1(
            case_no=case.case_no,
            kind=kind,  # type: ignore[arg-type]
            from_centre=here.id,
            from_level=here.level.value,
            to_centre=target.id,
            to_level=target.level.value,
            reason=reason,
        )
        await self.emit(session, event, actor)
        self.metrics.centre_moves.labels(kind=kind, to_level=target.level.value).inc()
        await self._dispatch_at_centre(session, case.case_no, actor, now)
        await self.record(
            session,
            actor,
            f"case.{kind}",
            case.case_no,
            {
                "from_centre": here.id,
                "from_level": here.level.value,
                "to_centre": target.id,
                "to_level": target.level.value,
                "reason_given": reason is not None,
            },
        )

    async def _dispatch_at_centre(
        self, session: AsyncSession, case_no: str, actor: Actor, now: datetime
    ) -> None:
        """Dispatch the case afresh within its (new) centre's area. A replied case starts a new round:
        the lower level's reply did not resolve it."""
        case = await self.case_or_404(session, case_no)
        if case.status in (CaseState.replied.value, CaseState.callback.value):
            state = CASE_MACHINE.apply(case.status, CaseAction.reopen)
            await session.execute(
                update(cases)
                .where(cases.c.case_no == case_no)
                .values(status=state.value, round=case.round + 1, updated_at=now)
            )
            case = await self.case_or_404(session, case_no)
        decision = self.route_case(case)
        if isinstance(decision, ManualQueue):
            for referral in await store.open_referrals(session, case_no):
                await self.cancel_referral(session, referral, "rerouted", actor, now)
            await self.queue(
                session,
                case_no,
                decision.reason.value,
                f"{decision.reason.value}: {decision.detail}",
                now,
                actor,
            )
            return
        await self.dispatch(
            session, case, decision.lead, decision.assisting, actor, now, rule_id=decision.rule_id
        )

    # --- holiday schedules ---------------------------------------------------------------------------

    async def load_schedule(
        self, session: AsyncSession, schedule: YearSchedule, actor: Actor = SYSTEM
    ) -> int:
        """Use a newly published official schedule from now on (kept in the database, so every start and
        every replica uses it) and recompute the flagged deadlines, each exactly once. Audited."""
        now = self.clock()
        holidays = sorted(d.isoformat() for d in schedule.holidays)
        workdays = sorted(d.isoformat() for d in schedule.makeup_workdays)
        checksum = hashlib.sha256(
            json.dumps([schedule.year, holidays, workdays], separators=(",", ":")).encode()
        ).hexdigest()
        stored = (
            await session.execute(
                select(holiday_schedules).where(holiday_schedules.c.year == schedule.year).with_for_update()
            )
        ).first()
        values = {
            "source": schedule.source,
            "holidays": holidays,
            "workdays": workdays,
            "checksum": checksum,
            "loaded_at": now,
            "actor_role": actor.role,
        }
        if stored is None:
            await session.execute(holiday_schedules.insert().values(year=schedule.year, **values))
        elif stored.checksum != checksum:
            await session.execute(
                update(holiday_schedules).where(holiday_schedules.c.year == schedule.year).values(**values)
            )
        self.config = replace(self.config, calendar=self.config.calendar.with_schedule(schedule))
        self._warned_years.discard(schedule.year)
        changed = await self.recompute_provisional(session, actor)
        self.metrics.schedules_loaded.inc()
        event = ScheduleLoadedV1(
            year=schedule.year,
            source=schedule.source,
            holidays=len(holidays),
            workdays=len(workdays),
            recomputed=changed,
        )
        await self.emit(session, event, actor)
        await self.record(
            session,
            actor,
            "calendar.schedule_loaded",
            None,
            {
                "year": schedule.year,
                "source": schedule.source,
                "checksum": checksum,
                "holidays": len(holidays),
                "workdays": len(workdays),
                "replaced": stored is not None and stored.checksum != checksum,
                "unchanged": stored is not None and stored.checksum == checksum,
                "recomputed": changed,
            },
        )
        failpoint("referral.calendar.before_commit")
        return changed

    async def use_stored_schedules(self, session: AsyncSession) -> list[int]:
        """At start: the schedules loaded at run time (they win over HUB_REFERRAL_SCHEDULES_DIR)."""
        rows = (await session.execute(select(holiday_schedules).order_by(holiday_schedules.c.year))).all()
        calendar = self.config.calendar
        for row in rows:
            calendar = calendar.with_schedule(
                YearSchedule(
                    row.year,
                    frozenset(date.fromisoformat(d) for d in row.holidays),
                    frozenset(date.fromisoformat(d) for d in row.workdays),
                    row.source,
                )
            )
        self.config = replace(self.config, calendar=calendar)
        return [row.year for row in rows]

    async def refresh_schedules(self, db: Database) -> bool:
        """Pick up schedules loaded through another replica (cheap: one aggregate over a tiny table)."""
        async with db.sessions() as session:
            count, latest = (
                await session.execute(select(func.count(), func.max(holiday_schedules.c.loaded_at)))
            ).one()
            marker = (int(count), latest)
            if marker == self._schedule_marker:
                return False
            await self.use_stored_schedules(session)
        self._schedule_marker = marker
        return True

    async def schedules_view(self, session: AsyncSession) -> dict[str, Any]:
        """Which years are covered and from where, and how many open deadlines are still provisional."""
        year = self.clock().astimezone(business_tz()).year
        stored = {
            row.year: row
            for row in (
                await session.execute(select(holiday_schedules).order_by(holiday_schedules.c.year))
            ).all()
        }
        provisional = (
            await session.execute(
                select(func.count())
                .select_from(deadlines)
                .where(deadlines.c.provisional.is_(True), deadlines.c.status == "open")
            )
        ).scalar_one()
        years = sorted({year, year + 1, *stored})
        return {
            "years": [
                {
                    "year": y,
                    "source": self.config.calendar.source_for(y).value,
                    "covered": self.config.calendar.covers(y),
                    "loaded_at": stored[y].loaded_at if y in stored else None,
                    "schedule_source": stored[y].source if y in stored else None,
                }
                for y in years
            ],
            "provisional_open_deadlines": int(provisional),
        }

    async def recompute_provisional(self, session: AsyncSession, actor: Actor = SYSTEM) -> int:
        """Recompute every open deadline that was counted on weekends only for a year the calendar now
        knows (RULES.md: "when the schedule arrives, the flagged deadlines are recomputed")."""
        now = self.clock()
        rows = (
            await session.execute(
                select(deadlines)
                .where(deadlines.c.provisional.is_(True), deadlines.c.status == "open")
                .order_by(deadlines.c.id)
                .with_for_update()
            )
        ).all()
        changed = 0
        for row in rows:
            if not all(self.config.calendar.covers(y) for y in row.provisional_years or ()):
                continue
            pauses = await store.pauses_of(session, row.referral_id) if row.referral_id else []
            fresh = recompute(store.to_domain(row, pauses), self.config.calendar)
            level = Level(row.supervision_level)
            paused = False
            referral = await store.find_referral(session, row.referral_id) if row.referral_id else None
            if referral is not None and referral.suspended and row.kind == DeadlineKind.handling.value:
                paused = True
            start = store.ladder_start(self.config, row.started_at, fresh.clock, fresh.pauses)
            ladder = row.kind in store.LADDER_KINDS and not paused
            await session.execute(
                update(deadlines)
                .where(deadlines.c.id == row.id)
                .values(
                    due_at=fresh.due_at,
                    provisional=fresh.provisional,
                    provisional_years=sorted(fresh.provisional_years),
                    next_check_at=store.next_check(self.config, start, fresh.due_at, now, level, fresh.clock)
                    if ladder
                    else row.next_check_at,
                    updated_at=now,
                    **store.external_values(fresh),
                )
            )
            if referral is not None:
                column = {"acknowledge": "ack_due_at", "handling": "due_at", "return_window": "return_until"}
                values: dict[str, Any] = {"updated_at": now}
                if row.kind in column:
                    values[column[row.kind]] = fresh.due_at
                still = (
                    await session.execute(
                        select(deadlines.c.id).where(
                            deadlines.c.referral_id == referral.id,
                            deadlines.c.provisional.is_(True),
                            deadlines.c.id != row.id,
                        )
                    )
                ).first()
                values["deadline_provisional"] = bool(still) or fresh.provisional
                await session.execute(update(referrals).where(referrals.c.id == referral.id).values(**values))
                event = DeadlinesRecomputedV1(
                    case_no=row.case_no,
                    referral_id=referral.id,
                    department=referral.department,
                    due_at=fresh.due_at,
                    previous_due_at=row.due_at,
                    year=min(row.provisional_years or [0]),
                )
                await self.emit(session, event, actor, deadline_kind=row.kind, provisional=fresh.provisional)
            self.metrics.recomputed_deadlines.inc()
            changed += 1
        if changed:
            log.warning("recomputed %d provisional deadline(s) with the official holiday schedule", changed)
        return changed

    # --- helpers ----------------------------------------------------------------------------------

    async def _case_status(
        self, session: AsyncSession, case: Row[Any], action: CaseAction, now: datetime, **values: Any
    ) -> CaseState:
        fresh = await store.lock_case(session, case.case_no)
        assert fresh is not None
        state = CASE_MACHINE.apply(fresh.status, action)
        await session.execute(
            update(cases)
            .where(cases.c.case_no == case.case_no)
            .values(status=state.value, updated_at=now, **values)
        )
        return state

    async def _finish(
        self,
        session: AsyncSession,
        case: Row[Any],
        action: CaseAction,
        now: datetime,
        actor: Actor,
        cancel_reason: str,
        **values: Any,
    ) -> CaseState:
        """The case ends (closed, merged, withdrawn): its open referrals are cancelled, its queue
        entries resolved."""
        state = await self._case_status(session, case, action, now, manual_reason=None, **values)
        for referral in await store.open_referrals(session, case.case_no):
            await self.cancel_referral(session, referral, cancel_reason, actor, now)
        await self.resolve_queue(session, case.case_no, now)
        return state

    async def _close(
        self,
        session: AsyncSession,
        case: Row[Any],
        action: CaseAction,
        reason: str,
        satisfaction: str | None,
        actor: Actor,
        now: datetime,
        **extra: Any,
    ) -> None:
        centre = self.centre_of(case)
        await self._finish(
            session,
            case,
            action,
            now,
            actor,
            "case_closed",
            close_reason=reason,
            closed_at=now,
            resolved_centre_id=centre.id if centre else None,
            resolved_level=centre.level.value if centre else None,
        )
        event = CaseClosedV1(
            case_no=case.case_no, reason=reason, satisfaction=satisfaction, colour=case.colour, closed_at=now
        )
        await self.emit(session, event, actor, **extra)
        await self._schedule_follow_ups(session, case, now)

    async def _schedule_follow_ups(self, session: AsyncSession, case: Row[Any], closed_at: datetime) -> None:
        rule = self.config.follow_ups.for_colour(case.colour)
        if rule is None:
            return
        first, end = rule.occurrence(closed_at, 1), rule.period_end(closed_at)
        if first > end:
            return
        await session.execute(
            deadlines.insert().values(
                case_no=case.case_no,
                referral_id=None,
                department=None,
                kind=store.FOLLOW_UP,
                limit_text=rule.cadence.value,
                started_at=closed_at,
                due_at=end,
                extension=0,
                provisional=False,
                provisional_years=[],
                status="open",
                supervision_level=Level.none.value,
                follow_up_seq=0,
                next_check_at=first,
                updated_at=closed_at,
            )
        )

    async def _handling(
        self, session: AsyncSession, referral: Row[Any]
    ) -> tuple[Row[Any], Deadline, Procedure]:
        rows = await store.referral_deadlines(session, referral.id, kinds=[DeadlineKind.handling.value])
        if not rows:
            raise TransitionRefused("referral", referral.status, "extension", [])
        row = rows[0]
        deadline = store.to_domain(row, await store.pauses_of(session, referral.id))
        procedure = procedure_for(
            self.config.book, row.procedure_id, row.procedure_version, referral.procedure_snapshot
        )
        return row, deadline, procedure

    async def _update_handling(
        self,
        session: AsyncSession,
        referral: Row[Any],
        row: Row[Any],
        deadline: Deadline,
        now: datetime,
        *,
        paused: bool,
    ) -> None:
        level = Level(row.supervision_level)
        start = store.ladder_start(self.config, row.started_at, deadline.clock, deadline.pauses)
        nxt = (
            None
            if paused
            else store.next_check(self.config, start, deadline.due_at, now, level, deadline.clock)
        )
        if deadline.provisional:
            self._note_provisional([deadline])
        await session.execute(
            update(deadlines)
            .where(deadlines.c.id == row.id)
            .values(
                due_at=deadline.due_at,
                extension=deadline.extension,
                provisional=deadline.provisional,
                provisional_years=sorted(deadline.provisional_years),
                next_check_at=nxt,
                updated_at=now,
                **store.external_values(deadline),
            )
        )
        if deadline.provisional and not referral.deadline_provisional:
            await session.execute(
                update(referrals).where(referrals.c.id == referral.id).values(deadline_provisional=True)
            )

    async def _end_suspension(self, session: AsyncSession, referral_id: str, now: datetime) -> None:
        await session.execute(
            update(suspensions)
            .where(suspensions.c.referral_id == referral_id, suspensions.c.ended_at.is_(None))
            .values(ended_at=now)
        )


def external_limit_of(case: Row[Any]) -> ExternalLimit | None:
    """The channel's limit on the case (12345's 办理时限), binding the first round of handling: a
    reopened case (不满意, 重办) is a new round the channel gives its own new limit, if any."""
    if case.due_by is None or not case.due_by_source or case.round != 1:
        return None
    return ExternalLimit(case.due_by, case.due_by_source)


def _holds(outer: str, inner: str) -> bool:
    try:
        return area_contains(outer, inner)
    except ValueError:
        return False


def _effective_level(intake_level: str, colour: str, departments: int) -> ResponseLevel:
    try:
        level = ResponseLevel(intake_level)
    except ValueError:
        level = ResponseLevel.immediate
    floor = default_response_level(Colour(colour), departments)
    return floor if floor.rank > level.rank else level


def _extension_problem(exc: ExtensionRefused) -> Problem:
    return Problem(
        422,
        "延期申请不符合规定",
        exc.message,
        type_="extension-refused",
        code=exc.code,
        errors=[{"field": "working_days", "message": exc.message}],
    )
