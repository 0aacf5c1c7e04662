"""Timeline projection: one row per event about a case, with the trace and span that caused it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.tables import timeline
from hub.messaging.consumer import HandlerContext
from hub.tracing import split_traceparent

# Only these event fields reach the timeline: codes and states, never personal data.
_DETAIL_KEYS = (
    "channel",
    "category",
    "colour",
    "response_level",
    "department",
    "department_name",
    "role",
    "status",
    "template",
    "recipient_kind",
    "provider",
    "reason",
    "lead",
    "assisting",
    "due_at",
    "ack_due_at",
    "duplicate_of",
    "level",
    "outcome",
    # tiered centres (上报/下派) and holiday schedules (provisional deadlines recomputed)
    "kind",
    "centre_id",
    "centre_level",
    "from_centre",
    "from_level",
    "to_centre",
    "to_level",
    "district_centre",
    "holding_centre",
    "previous_due_at",
    "years",
    "year",
)
_ACTOR_KEYS = ("actor_role", "actor_department")


async def project_event(ctx: HandlerContext) -> None:
    event = ctx.event
    if not event.subject:
        return
    trace_id, span_id = split_traceparent(event.traceparent)
    data: dict[str, Any] = event.data
    service = event.source.rsplit("/", 1)[-1]
    await ctx.session.execute(
        timeline.insert().values(
            event_id=event.id,
            case_no=event.subject,
            at=event.time,
            service=service,
            event=event.type,
            actor={"service": service, **{k[6:]: data[k] for k in _ACTOR_KEYS if k in data}},
            detail={k: data[k] for k in _DETAIL_KEYS if k in data},
            trace_id=trace_id,
            span_id=span_id,
        )
    )


async def case_timeline(session: Any, case_no: str) -> list[Any]:
    rows = await session.execute(
        select(timeline).where(timeline.c.case_no == case_no).order_by(timeline.c.at, timeline.c.id)
    )
    return list(rows)
