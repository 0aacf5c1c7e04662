"""Events → deliveries. Handlers only write rows (in the inbox transaction); the sender sends them.

At most once per (event, recipient, template): each row's dedup key is unique in the ledger. Quiet
hours, the per-phone rate limit and opt-outs are applied here, when the row is created (its
`not_before`, or status `opted_out`), and checked again by the sender: deferred, never dropped.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from hub.contracts.intake import CaseAssessmentChangedV1, CaseRegisteredV1, reporter_phone_aad
from hub.contracts.referral import (
    CaseRepliedV1,
    ReferralDispatchedV1,
    ReferralExtensionDecidedV1,
    ReferralSupervisionRaisedV1,
    TaskCreatedV1,
)
from hub.crypto import DecryptionError, FieldCipher, keyed_hash
from hub.db import Database
from hub.messaging.consumer import HandlerContext, RetryLater
from hub.messaging.handlers import Handlers
from hub.tracing import current_traceparent
from hub.upsert import upsert
from services.notification.contacts import ContactRegistry
from services.notification.domain import messages
from services.notification.domain.messages import Planned
from services.notification.domain.scheduling import SendingPolicy, earliest_send
from services.notification.domain.templates import TemplateCatalog
from services.notification.ledger import opted_out, send_history
from services.notification.tables import contact_aad, contacts, deliveries, delivery_aad

log = logging.getLogger("hub.notification.handlers")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class NotificationHandlers:
    """The consumer's handlers, with the clock, policies and contact registry they decide by."""

    def __init__(
        self,
        *,
        cipher: FieldCipher,
        hash_key: str,
        catalog: TemplateCatalog,
        contacts: ContactRegistry,
        policy: SendingPolicy | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.cipher = cipher
        self.hash_key = hash_key
        self.catalog = catalog
        self.contacts = contacts
        self.policy = policy or SendingPolicy()
        self.clock = clock

    def table(self) -> Handlers:
        return Handlers(
            {
                CaseRegisteredV1: self.on_case_registered,
                CaseAssessmentChangedV1: self.on_assessment_changed,
                ReferralDispatchedV1: self.on_referral_dispatched,
                ReferralSupervisionRaisedV1: self.on_supervision_raised,
                ReferralExtensionDecidedV1: self.on_extension_decided,
                CaseRepliedV1: self.on_case_replied,
                TaskCreatedV1: self.on_task_created,
            }
        )

    # --- citizen contact projection -------------------------------------------------------------

    async def on_case_registered(self, ctx: HandlerContext) -> None:
        case = CaseRegisteredV1.model_validate(ctx.event.data)
        # The event's ciphertext is bound to the event's field; the contact row gets its own. A value
        # that does not open for this case (copied from another) raises: retried, then dead-lettered.
        phone = self.cipher.decrypt(case.reporter.phone_enc, aad=reporter_phone_aad(case.case_no))
        stmt = upsert(ctx.session, contacts, ["case_no"]).values(
            case_no=case.case_no,
            phone_enc=self.cipher.encrypt(phone, aad=contact_aad(case.case_no)),
            phone_hash=case.reporter.phone_hash,
            sms_capable=case.reporter.sms_capable,
            colour=case.colour,
            updated_at=self.clock(),
        )
        await ctx.session.execute(stmt)

    async def on_assessment_changed(self, ctx: HandlerContext) -> None:
        change = CaseAssessmentChangedV1.model_validate(ctx.event.data)
        # The colour decides the quiet-hours exemption of messages created from now on.
        await ctx.session.execute(
            update(contacts)
            .where(contacts.c.case_no == change.case_no)
            .values(colour=change.colour, updated_at=self.clock())
        )

    async def _citizen(self, ctx: HandlerContext, case_no: str) -> Any:
        contact = (await ctx.session.execute(select(contacts).where(contacts.c.case_no == case_no))).first()
        if contact is None:
            # case.registered.v1 not seen yet (redelivery reordered them): come back shortly.
            raise RetryLater("case contact not known yet")
        return contact

    # --- referral events --------------------------------------------------------------------------

    async def on_referral_dispatched(self, ctx: HandlerContext) -> None:
        referral = ReferralDispatchedV1.model_validate(ctx.event.data)
        if referral.role == "lead":
            # The citizen hears once per case, when the lead department has it.
            contact = await self._citizen(ctx, referral.case_no)
            if contact.sms_capable and contact.phone_enc:  # else anonymous, or no mobile
                # Once per case: a lead re-dispatched (after a return, in a later round) is no news
                # to the citizen.
                await self._to_citizen(
                    ctx,
                    messages.acceptance(referral.case_no, referral.due_at),
                    referral.case_no,
                    contact,
                    scope=f"case:{referral.case_no}",
                )
        plan = messages.dispatch_whistle(
            referral.case_no, referral.category, referral.role, referral.ack_due_at
        )
        await self._to_department(ctx, plan, referral.case_no, referral.department, referral.colour)

    async def on_supervision_raised(self, ctx: HandlerContext) -> None:
        step = ReferralSupervisionRaisedV1.model_validate(ctx.event.data)
        plan = messages.supervision(step.case_no, step.level, step.stage, step.due_at, step.overdue)
        await self._to_department(ctx, plan, step.case_no, step.department, None)

    async def on_extension_decided(self, ctx: HandlerContext) -> None:
        decision = ReferralExtensionDecidedV1.model_validate(ctx.event.data)
        plan = messages.extension_decision(
            decision.case_no, decision.approved, decision.new_due_at, decision.due_at
        )
        await self._to_department(ctx, plan, decision.case_no, decision.department, None)

    async def on_case_replied(self, ctx: HandlerContext) -> None:
        reply = CaseRepliedV1.model_validate(ctx.event.data)
        contact = await self._citizen(ctx, reply.case_no)
        if not contact.sms_capable or not contact.phone_enc:
            return  # anonymous: the case closes on the reply, no SMS and no callback
        for plan in messages.replied(reply.case_no, reply.lead_department_name):
            await self._to_citizen(ctx, plan, reply.case_no, contact)

    async def on_task_created(self, ctx: HandlerContext) -> None:
        """A new worklist task: one message to each person configured for the centre and kind (the first
        centre up the tree that has someone), and/or the centre's own system. Staff are on duty like
        departments: quiet hours are for citizens (RULES.md "Notifications")."""
        new = TaskCreatedV1.model_validate(ctx.event.data)
        if new.kind not in messages.TASK_TEMPLATES:
            # No SMS template for this kind (a grid worker's task, decision 0024; a key person's visit,
            # decision 0026): the worker's app and the worklist list it.
            log.info("task %s (%s): no message template for the kind; worklist only", new.task_id, new.kind)
            return
        target = self.contacts.task_target(new.centre_path or [new.centre_id], new.kind)
        if target is None:
            log.info(
                "task %s (%s, centre %s): nobody configured; worklist only",
                new.task_id,
                new.kind,
                new.centre_id,
            )
            return
        plan = messages.task(
            new.kind,
            case_no=new.case_no,
            due_at=new.due_at,
            case_count=new.case_count,
            category=new.category,
            colour=new.colour,
            sequence=new.sequence,
            window_start=new.window_start,
            window_end=new.window_end,
            scope=new.scope,
            area=new.area,
            area_name=new.area_name,
        )
        unit = target.centre.unit_code
        for phone in target.contact.mobiles:
            await self.enqueue(
                ctx,
                template=plan.template,
                case_no=new.case_no,
                params=plan.params,
                recipient_kind="department",
                recipient=phone,
                recipient_hash=keyed_hash(self.hash_key, phone),
                colour=None,
                department=unit,
            )
        hook = self.contacts.webhook(unit) if target.contact.webhook else None
        if hook is not None:
            await self.enqueue(
                ctx,
                template=plan.template,
                case_no=new.case_no,
                params=plan.params,
                recipient_kind="department_webhook",
                recipient=hook.url,
                recipient_hash=keyed_hash(self.hash_key, f"webhook:{unit}"),
                colour=None,
                department=unit,
            )

    # --- rows -------------------------------------------------------------------------------------

    async def _to_citizen(
        self, ctx: HandlerContext, plan: Planned, case_no: str, contact: Any, scope: str | None = None
    ) -> None:
        try:
            phone = self.cipher.decrypt(contact.phone_enc, aad=contact_aad(case_no)) or ""
        except DecryptionError:
            log.error("case %s: the reporter's contact cannot be decrypted for this case; no SMS", case_no)
            return
        await self.enqueue(
            ctx,
            template=plan.template,
            case_no=case_no,
            params=plan.params,
            recipient_kind="citizen",
            recipient=phone,
            recipient_hash=contact.phone_hash or "",
            colour=contact.colour,
            scope=scope,
        )

    async def _to_department(
        self, ctx: HandlerContext, plan: Planned, case_no: str, department: str, colour: str | None
    ) -> None:
        unit = self.contacts.unit(department)
        phones: dict[str, None] = {}
        for audience in plan.audiences:
            for phone in self.contacts.mobiles(department, audience):
                phones[phone] = None
        if unit is None and not phones:
            log.info("case %s: no contact registered for department %s; console only", case_no, department)
            return
        for phone in phones:
            await self.enqueue(
                ctx,
                template=plan.template,
                case_no=case_no,
                params=plan.params,
                recipient_kind="department",
                recipient=phone,
                recipient_hash=keyed_hash(self.hash_key, phone),
                colour=colour,
                department=department,
            )
        hook = self.contacts.webhook(department)
        if hook is not None and "webhook" in plan.audiences:
            await self.enqueue(
                ctx,
                template=plan.template,
                case_no=case_no,
                params=plan.params,
                recipient_kind="department_webhook",
                recipient=hook.url,
                recipient_hash=keyed_hash(self.hash_key, f"webhook:{department}"),
                colour=colour,
                department=department,
            )

    async def enqueue(
        self,
        ctx: HandlerContext,
        *,
        template: str,
        case_no: str | None,
        params: dict[str, Any],
        recipient_kind: str,
        recipient: str,
        recipient_hash: str,
        colour: str | None,
        department: str | None = None,
        scope: str | None = None,
    ) -> None:
        """One ledger row; a second one for the same (event, recipient, template) is ignored.

        `recipient` (a phone or a webhook URL) is encrypted here, bound to the new row's id.

        `scope` widens "event" where one message per case is meant (the acceptance notice).
        """
        now = self.clock()
        session = ctx.session
        status, not_before = "pending", now
        if recipient_kind == "citizen":
            if recipient_hash in await opted_out(session, [recipient_hash]):
                status = "opted_out"
                log.info("case %s: %s not sent, the citizen opted out", case_no, template)
            else:
                history = await send_history(
                    session,
                    [recipient_hash],
                    now=now,
                    window=self.policy.rate_limit.window,
                    include_scheduled=True,
                )
                not_before = earliest_send(now, colour, "citizen", history[recipient_hash], self.policy)
                if not_before > now:
                    log.info("case %s: %s deferred to %s", case_no, template, not_before.isoformat())
        traceparent, _ = current_traceparent()
        delivery_id = str(uuid.uuid4())
        stmt = upsert(session, deliveries, ["dedup_key"]).values(
            id=delivery_id,
            dedup_key=f"{scope or ctx.event.id}:{recipient_hash}:{template}",
            case_no=case_no,
            template=template,
            params=messages.fit_params(self.catalog, template, params),
            recipient_kind=recipient_kind,
            recipient_enc=self.cipher.encrypt(recipient, aad=delivery_aad(delivery_id)) or "",
            recipient_hash=recipient_hash,
            colour=colour,
            department=department,
            status=status,
            not_before=not_before,
            attempts=0,
            traceparent=traceparent,
            created_at=now,
        )
        await session.execute(stmt)
        Database.flag(session, "deliveries")
