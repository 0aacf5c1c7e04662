"""Writing the ledger: the consumer of our status events (`gateway.adapter-sync`) writes one row
per (case, system, update of a round) in the same transaction as its inbox record; merged cases'
links follow the surviving case."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import or_, select, update

from gateway.adapters.common import EVENT_UPDATES, RANK, SYSTEMS
from gateway.adapters.inbound import upsert_link
from gateway.tables import adapter_cases, adapter_deliveries, adapter_links
from hub.contracts.intake import CaseMergedV1
from hub.db import Database
from hub.messaging.consumer import HandlerContext, RetryLater
from hub.messaging.handlers import Handlers
from hub.tracing import current_traceparent
from hub.upsert import upsert

TOPIC = "adapter-deliveries"
QUEUE = "gateway.adapter-sync"
FINAL = ("sent", "skipped")
# A status event of a case whose registration this consumer has not seen yet is retried while
# young (the registration overtook it in flight); an old one belongs to a case registered before
# the adapters existed and is left alone.
UNSEEN_GRACE = timedelta(hours=1)
# Rounds of handling are numbered from 1, as referral numbers them (a reopen starts the next one).
FIRST_ROUND = 1


class StatusEvent(BaseModel):
    """Only the fields the adapters need, from any of the status events; unknown fields ignored."""

    model_config = ConfigDict(extra="ignore")

    case_no: str
    channel: str | None = None
    source_ref: str | None = None
    lead: str | None = None
    department: str | None = None
    department_name: str | None = None
    lead_department_name: str | None = None
    role: str | None = None
    outcome: str | None = None
    summary: str | None = None
    reason: str | None = None
    title: str | None = None
    category: str | None = None
    court: str | None = None
    to: str | None = None  # case.referred_to_court.v1: court | arbitration
    round: int | None = None  # referral's round of handling, where the event says it
    colour: str | None = None
    reason_code: str | None = None  # case.returned_to_channel.v1
    # referral.extension_requested.v1: which request, how much, and what it asks of the channel
    extension_id: int | None = None
    amount: int | None = None
    unit: str | None = None
    requested_external_due_at: str | None = None
    external_due_at: str | None = None


def _data(event: StatusEvent, at: datetime) -> dict[str, Any]:
    values = {
        "at": at.isoformat(),
        "department": event.lead_department_name or event.department_name or event.lead or event.department,
        "role": event.role,
        "outcome": event.outcome,
        "summary": event.summary,
        "reason": event.reason,
        "title": event.title,
        "category": event.category,
        "court": event.court,
        "colour": event.colour,
        "reason_code": event.reason_code,
        "amount": event.amount,
        "unit": event.unit,
        "requested_external_due_at": event.requested_external_due_at,
        "external_due_at": event.external_due_at,
    }
    return {k: v for k, v in values.items() if v is not None}


def _update_key(update_name: str, round_: int, event: StatusEvent, event_id: str) -> str:
    """One row per update of a round; an extension request is one per request (there may be several)."""
    if update_name == "extension_requested":
        return f"{update_name}#{event.extension_id or event_id}@{round_}"
    return f"{update_name}@{round_}"


class Ledger:
    """Turns status events into ledger rows for the systems that know the case and take the update."""

    def __init__(
        self,
        outbound: Mapping[str, frozenset[str]],
        not_for_merged: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        # system → the updates it takes; only systems with a configured URL are here.
        self.outbound = outbound
        # system → updates a work order merged into another case does not take from it
        self.not_for_merged = dict(not_for_merged or {})

    def handlers(self) -> Handlers:
        return Handlers({**dict.fromkeys(EVENT_UPDATES, self.on_event), CaseMergedV1: self.on_merged})

    async def on_merged(self, ctx: HandlerContext) -> None:
        """A case merged into another: its links (and those of cases merged into it before) follow the
        surviving case, so each merged work order keeps hearing every status of the case (RULES.md
        "each channel's own reply and callback duties survive a merge")."""
        merged = CaseMergedV1.model_validate(ctx.event.data)
        numbers = {merged.case_no, *(d.case_no for d in merged.duties)}
        await ctx.session.execute(
            update(adapter_links)
            .where(adapter_links.c.case_no.in_(numbers))
            .values(follows_case_no=merged.into, updated_at=datetime.now(UTC))
        )

    async def on_event(self, ctx: HandlerContext) -> None:
        update_name = EVENT_UPDATES[ctx.event.type]
        event = StatusEvent.model_validate(ctx.event.data)
        session = ctx.session
        case_no = event.case_no
        now = datetime.now(UTC)
        if update_name == "extension_requested" and event.role != "lead":
            return  # the lead answers for the case; an assisting department's request stays inside
        if update_name == "registered":
            await session.execute(
                upsert(session, adapter_cases, ["case_no"]).values(
                    case_no=case_no, channel=event.channel or "", round=FIRST_ROUND, seen_at=now
                )
            )
            if event.channel in SYSTEMS and event.source_ref:
                await upsert_link(
                    session,
                    system=event.channel,
                    external_ref=event.source_ref,
                    case_no=case_no,
                    origin="event",
                )
        known = (
            await session.execute(select(adapter_cases.c.round).where(adapter_cases.c.case_no == case_no))
        ).first()
        if known is None:
            if now - ctx.event.time < UNSEEN_GRACE:
                raise RetryLater("case registration not seen yet")
            return
        # Referral numbers its rounds of handling (a dissatisfied callback starts the next one); an
        # event that says its round is placed in it, even when it arrives late.
        round_ = max(event.round, FIRST_ROUND) if event.round is not None else known.round
        if update_name == "reopened" and event.round is None:
            round_ = known.round + 1
        if round_ > known.round:
            await session.execute(
                update(adapter_cases).where(adapter_cases.c.case_no == case_no).values(round=round_)
            )
        if update_name == "referred_to_court":
            if event.to not in (None, "court"):
                return  # arbitration has no adapter
            await upsert_link(session, system="court", external_ref=None, case_no=case_no, origin="referral")
        # The case's own links, and those of work orders merged into it (delivered under their own
        # case number: in order with what they were told before the merge, never twice).
        links = (
            await session.execute(
                select(adapter_links.c.system, adapter_links.c.case_no).where(
                    or_(adapter_links.c.case_no == case_no, adapter_links.c.follows_case_no == case_no)
                )
            )
        ).all()
        traceparent, _ = current_traceparent()
        created = False
        data = _data(event, ctx.event.time)
        for link in links:
            if update_name not in self.outbound.get(link.system, frozenset()):
                continue
            follower = link.case_no != case_no
            if follower and update_name in self.not_for_merged.get(link.system, frozenset()):
                continue
            result = await session.execute(
                upsert(session, adapter_deliveries, ["case_no", "system", "update_key"])
                .values(
                    update_id=str(uuid.uuid4()),
                    case_no=link.case_no,
                    system=link.system,
                    update_name=update_name,
                    update_key=_update_key(update_name, round_, event, ctx.event.id),
                    round=round_,
                    rank=RANK[update_name],
                    data={**data, "merged_into": case_no} if follower else data,
                    event_id=ctx.event.id,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    traceparent=traceparent or ctx.event.traceparent,
                    created_at=now,
                )
                .returning(adapter_deliveries.c.id)
            )
            created = created or result.first() is not None
        if created:
            Database.flag(session, TOPIC)
