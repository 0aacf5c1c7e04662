"""Routing and dispatch (中心吹哨): a case routed by its category and area to a lead and assisting
departments, each given a referral with its deadlines; the dispatcher's queue when no rule matches or a
department returns it (never nowhere, never lost); manual dispatch and re-routing by the centre.

Rules are data (:mod:`services.referral.domain.routing`), routed within the holding centre's area; the
deadlines are the procedure's (:mod:`services.referral.domain.deadlines`), counted in working days.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.contracts.referral import (
    CaseDispatchedV1,
    CaseQueuedForDispatcherV1,
    DeadlinesProvisionalV1,
    ReferralCancelledV1,
    ReferralDispatchedV1,
)
from hub.contracts.vocabulary import Colour, ResponseLevel
from services.referral import store
from services.referral.actors import Actor
from services.referral.domain.deadlines import (
    Deadline,
    DeadlineKind,
    Procedure,
    acceptance_deadline,
    acknowledge_deadline,
    default_response_level,
    handling_deadline,
    meeting_deadline,
    return_window,
)
from services.referral.domain.lifecycle import (
    CASE_MACHINE,
    CaseAction,
    CaseState,
    ReferralAction,
    ReferralState,
    apply_referral,
)
from services.referral.domain.procedure_documents import procedure_document
from services.referral.domain.routing import AreaLevel, ManualQueue, RoutingDecision, Unit, area_level, route
from services.referral.domain.supervision import Level
from services.referral.errors import InvalidRequest, field_error
from services.referral.store import Record
from services.referral.tables import cases, deadlines, dispatch_queue, referrals
from services.referral.usecases.context import Context
from services.referral.usecases.handling import Handling, end_suspension, external_limit_of
from services.referral.usecases.supervision import next_check


class Dispatch:
    def __init__(self, ctx: Context, handling: Handling) -> None:
        self.ctx = ctx
        self.handling = handling

    # --- routing ---------------------------------------------------------------------------------

    def route_case(self, case: Record) -> RoutingDecision | ManualQueue:
        """Route within the holding centre's area: by the case's location while the case is at its home
        centre, by the centre's own area once it was escalated (上报) or delegated (下派) elsewhere."""
        config = self.ctx.config
        street, district, community = case.street_code, None, None
        centre = self.ctx.centre_of(case)
        home = config.centres.home_for(case.street_code) if case.street_code else None
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
            config.registry,
            config.rules,
            community_code=community,
            centre_level=level,
        )

    async def route_and_dispatch(
        self, session: AsyncSession, case: Record, actor: Actor, now: datetime
    ) -> bool:
        """Dispatch by the routing rules, or queue the case for the dispatcher (False)."""
        decision = self.route_case(case)
        if isinstance(decision, ManualQueue):
            await self.queue(session, case.case_no, decision.reason.value, _why(decision), now, actor)
            return False
        await self.dispatch(
            session, case, decision.lead, decision.assisting, actor, now, rule_id=decision.rule_id
        )
        return True

    async def reroute_at_centre(
        self, session: AsyncSession, case: Record, actor: Actor, now: datetime
    ) -> None:
        """Dispatch the case afresh within its (new) centre's area. A replied case starts a new round:
        the lower level's reply did not resolve it."""
        if case.status in (CaseState.replied.value, CaseState.callback.value):
            case = await self.ctx.advance_case(session, case, CaseAction.reopen, now, round=case.round + 1)
        decision = self.route_case(case)
        if isinstance(decision, ManualQueue):
            for referral in await store.open_referrals(session, case.case_no):
                await self.cancel_referral(session, referral, "rerouted", actor, now)
            await self.queue(session, case.case_no, decision.reason.value, _why(decision), now, actor)
            return
        await self.dispatch(
            session, case, decision.lead, decision.assisting, actor, now, rule_id=decision.rule_id
        )

    # --- manual dispatch by the centre -----------------------------------------------------------

    async def manual_dispatch(
        self,
        session: AsyncSession,
        case_no: str,
        lead_code: str,
        assisting_codes: Sequence[str],
        actor: Actor,
    ) -> None:
        actor.require("centre")
        units = self.ctx.config.registry.units
        unknown = [
            field_error(field, f"unknown unit {code}")
            for field, code in [
                ("lead", lead_code),
                *((f"assisting.{i}", c) for i, c in enumerate(assisting_codes)),
            ]
            if code not in units
        ]
        if unknown:
            raise InvalidRequest(
                "未知单位",
                "以下单位编码不存在: " + ", ".join(e["message"].split()[-1] for e in unknown),
                errors=unknown,
            )
        case = await self.ctx.load_case(session, case_no, actor)
        CASE_MACHINE.apply(case.status, CaseAction.dispatch)  # 409 before anything is written
        lead = self.ctx.unit(lead_code)
        assisting = [self.ctx.unit(c) for c in dict.fromkeys(assisting_codes) if c != lead_code]
        await self.dispatch(session, case, lead, assisting, actor, self.ctx.clock())

    # --- dispatch (吹哨) -----------------------------------------------------------------------------

    async def dispatch(
        self,
        session: AsyncSession,
        case: Record,
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
        procedure = self.ctx.config.book.for_category(case.category)
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
        await self.ctx.emit(
            session, event, actor, round=case.round, response_level=level.value, rule_id=rule_id
        )

    async def _change_role(
        self,
        session: AsyncSession,
        case: Record,
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
        await self.handling.bind_external(
            session, referral, external_limit_of(case) if role == "lead" else None, now
        )
        lead_only = [DeadlineKind.meeting.value, DeadlineKind.acceptance.value]
        if role != "lead":
            await store.close_deadlines(session, referral.id, now, kinds=lead_only)
            return
        config = self.ctx.config
        cal, started = config.calendar, referral.dispatched_at
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
                        next_check_at=next_check(config, d.started_at, d.due_at, now, Level.none, d.clock),
                        now=now,
                    )
                    for d in extra
                ],
            )

    async def _create_referral(
        self,
        session: AsyncSession,
        case: Record,
        unit: Unit,
        role: str,
        level: ResponseLevel,
        procedure: Procedure,
        actor: Actor,
        now: datetime,
        rule_id: str | None,
    ) -> datetime:
        config = self.ctx.config
        cal = config.calendar
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
                next_check_at=next_check(config, d.started_at, d.due_at, now, Level.none, d.clock),
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
        await self.ctx.emit(
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

    async def _warn_provisional(
        self,
        session: AsyncSession,
        case_no: str,
        referral_id: str,
        found: Sequence[Deadline],
        actor: Actor,
    ) -> None:
        """Ops are warned: a log line (no personal data), a metric and an event per referral."""
        self.ctx.note_provisional(found)
        years = sorted(set().union(*(d.provisional_years for d in found)))
        for year in years:
            self.ctx.metrics.provisional_deadlines.labels(year=str(year)).inc()
        event = DeadlinesProvisionalV1(case_no=case_no, referral_id=referral_id, years=years)
        await self.ctx.emit(session, event, actor)

    # --- the dispatcher's queue, cancelled referrals ------------------------------------------------

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
        await self.ctx.emit(
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
        await end_suspension(session, referral.id, now)
        event = ReferralCancelledV1(
            referral_id=referral.id,
            case_no=referral.case_no,
            department=referral.department,
            reason=reason,  # type: ignore[arg-type]
        )
        await self.ctx.emit(session, event, actor)


def _why(decision: ManualQueue) -> str:
    return f"{decision.reason.value}: {decision.detail}"


def _effective_level(intake_level: str, colour: str, departments: int) -> ResponseLevel:
    try:
        level = ResponseLevel(intake_level)
    except ValueError:
        level = ResponseLevel.immediate
    floor = default_response_level(Colour(colour), departments)
    return floor if floor.rank > level.rank else level
