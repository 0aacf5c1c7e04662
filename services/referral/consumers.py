"""Events referral listens to: registrations (dispatch, and early warning: the worklist), key persons'
visit schedules (重点人员),
re-gradings, merges, ratings (回访: SMS replies, 12345's own), 12345 urges (催办) and its answers to our
extension requests (延期审核).

Each handler runs in the consumer's transaction with its inbox row, so a redelivered event changes
nothing. A stale external update (a rating for a case already closed or already in its next round) is
ignored, never applied backwards.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from hub.contracts.gateway import HotlineExtensionAnsweredV1, HotlineRatingReceivedV1, HotlineUrgeReceivedV1
from hub.contracts.intake import (
    CaseAssessmentChangedV1,
    CaseMergedV1,
    CaseRegisteredV1,
    KeyPersonFollowUpV1,
)
from hub.contracts.notification import SmsReplyReceivedV1
from hub.contracts.vocabulary import Colour
from hub.messaging.consumer import HandlerContext, Reject, RetryLater
from hub.messaging.handlers import Handlers
from services.referral import store
from services.referral.actors import SYSTEM, Actor
from services.referral.domain.lifecycle import TransitionRefused
from services.referral.errors import ReferralError
from services.referral.tables import cases
from services.referral.usecases.wiring import ReferralUseCases

log = logging.getLogger("hub.referral.consumers")


# 12345's pushes that arrive as events (the gateway's adapter could not call the endpoint): the system.
HOTLINE = Actor("adapter", id="hotline12345", kind="system")


def handlers(uc: ReferralUseCases) -> Handlers:
    handlers = Handlers()

    @handlers.on(CaseRegisteredV1)
    async def on_case_registered(ctx: HandlerContext) -> None:
        case = CaseRegisteredV1.model_validate(ctx.event.data)  # an unknown colour is refused here
        session = ctx.session
        exists = (
            await session.execute(select(cases.c.case_no).where(cases.c.case_no == case.case_no))
        ).first()
        if exists:
            return  # the same case under another event id: registration is once per case
        now = uc.context.clock()
        await session.execute(
            cases.insert().values(
                case_no=case.case_no,
                status="registered",
                channel=case.channel,
                category=case.category,
                colour=case.colour,
                response_level=case.response_level,
                intake_response_level=case.response_level,
                street_code=case.street_code,
                grid_code=case.grid_code,
                anonymous=case.reporter.anonymous,
                round=1,
                trace_id=case.trace_id,
                traceparent=ctx.event.traceparent,
                registered_at=case.registered_at,
                updated_at=now,
                due_by=case.due_by,
                due_by_source=case.due_by_source if case.due_by else None,
            )
        )
        row = await store.lock_case(session, case.case_no)
        assert row is not None
        row = await uc.centres.assign_home_centre(session, row, now)
        await uc.dispatch.route_and_dispatch(session, row, SYSTEM, now)
        # Early warning (弱信号): in the same transaction as the inbox row.
        await uc.worklist.case_registered(session, case)

    @handlers.on(CaseMergedV1)
    async def on_case_merged(ctx: HandlerContext) -> None:
        merged = CaseMergedV1.model_validate(ctx.event.data)
        actor = Actor(merged.actor_role or "centre")
        limits = [(d.due_by, d.due_by_source) for d in merged.duties if d.due_by and d.due_by_source]
        if await uc.cases.merged(ctx.session, merged.case_no, merged.into, actor, limits=limits) is None:
            raise RetryLater("case not registered here yet")

    @handlers.on(CaseAssessmentChangedV1)
    async def on_assessment_changed(ctx: HandlerContext) -> None:
        changed = CaseAssessmentChangedV1.model_validate(ctx.event.data)
        try:
            Colour(changed.colour)
        except ValueError:
            raise Reject(f"unknown colour {changed.colour!r}") from None
        if (
            await uc.cases.assessment_changed(ctx.session, changed.case_no, changed.colour, changed.category)
            is None
        ):
            raise RetryLater("case not registered here yet")

    @handlers.on(KeyPersonFollowUpV1)
    async def on_key_person_follow_up(ctx: HandlerContext) -> None:
        """A key person's colour, grid or state changed (重点人员 / 七色户卡): the visit schedule follows."""
        changed = KeyPersonFollowUpV1.model_validate(ctx.event.data)
        await uc.key_person_visits.schedule_changed(ctx.session, changed)

    async def rate(
        ctx: HandlerContext, case_no: str, satisfaction: str, comment: str | None, actor: Actor, via: str
    ) -> None:
        try:
            changed = await uc.cases.callback(ctx.session, case_no, satisfaction, comment, actor, via=via)
        except ReferralError as exc:
            raise Reject(f"{exc.type} {exc.title}") from None
        except TransitionRefused as exc:
            log.info("stale %s rating ignored: case in state %s", via, exc.current_state)
            return
        if not changed:
            log.info("repeated or late %s rating ignored", via)

    @handlers.on(SmsReplyReceivedV1)
    async def on_sms_reply(ctx: HandlerContext) -> None:
        reply = SmsReplyReceivedV1.model_validate(ctx.event.data)
        await rate(ctx, reply.case_no, reply.satisfaction, None, SYSTEM, "sms")

    @handlers.on(HotlineRatingReceivedV1)
    async def on_hotline_rating(ctx: HandlerContext) -> None:
        """12345's own callback result, when the gateway's adapter could not reach the callback endpoint."""
        rating = HotlineRatingReceivedV1.model_validate(ctx.event.data)
        await rate(ctx, rating.case_no, rating.satisfaction, rating.comment, HOTLINE, "hotline12345")

    @handlers.on(HotlineUrgeReceivedV1)
    async def on_urge(ctx: HandlerContext) -> None:
        urge = HotlineUrgeReceivedV1.model_validate(ctx.event.data)
        if await uc.supervision.urge(ctx.session, urge.case_no, HOTLINE) < 0:
            raise RetryLater("case not registered here yet")

    @handlers.on(HotlineExtensionAnsweredV1)
    async def on_extension_answered(ctx: HandlerContext) -> None:
        """12345 approved (new limitTime) or denied our extension request on its limit."""
        answer = HotlineExtensionAnsweredV1.model_validate(ctx.event.data)
        if answer.approved and answer.limit_time is None:
            raise Reject("an approved extension without its new limit")
        done = await uc.limits.extension_answered(
            ctx.session,
            answer.case_no,
            source=answer.source,
            approved=answer.approved,
            limit=answer.limit_time,
            external_id=answer.delay_id,
            note=answer.opinion,
            actor=HOTLINE,
        )
        if done is None:
            raise RetryLater("case not registered here yet")

    return handlers
