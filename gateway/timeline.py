"""Timeline projection: one row per event about a case, with the trace and span that caused it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from gateway.tables import timeline, users
from hub.db import Database
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
    # the dual track: 回退 codes, extension requests and the channel's answers to them
    "reason_code",
    "amount",
    "unit",
    "approved",
    "due_by",
    "previous_due_by",
    "source",
    "external_due_at",
    "requested_external_due_at",
    "delay_id",
    "limit_time",
    # grid workers (issue 18): the grid, a report's attachment count, a visit's outcome and task status
    "grid",
    "attachments",
    "has_point",
    "task_id",
    "visited_at",
)
_ACTOR_KEYS = ("actor_role", "actor_department")
# A person's user id where the event names one (grid workers' reports and visits, a grid task's
# dispatch: `person_id`): the timeline's actor `id`, shown with their display name when read.


async def project_event(ctx: HandlerContext) -> None:
    event = ctx.event
    if not event.subject:
        return
    trace_id, span_id = split_traceparent(event.traceparent)
    data: dict[str, Any] = event.data
    service = event.source.rsplit("/", 1)[-1]
    row = {
        "event_id": event.id,
        "case_no": event.subject,
        "at": event.time,
        "service": service,
        "event": event.type,
        "actor": {
            "service": service,
            **{k[6:]: data[k] for k in _ACTOR_KEYS if k in data},
            **({"id": data["person_id"]} if data.get("person_id") else {}),
        },
        "detail": {k: data[k] for k in _DETAIL_KEYS if k in data},
        "trace_id": trace_id,
        "span_id": span_id,
    }
    # A batch of deliveries' entries go in together, at its commit.
    await Database.insert_at_commit(ctx.session, timeline, row)


async def case_timeline(session: Any, case_no: str) -> list[Any]:
    rows = await session.execute(
        select(timeline).where(timeline.c.case_no == case_no).order_by(timeline.c.at, timeline.c.id)
    )
    return list(rows)


async def with_names(session: Any, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries whose actor is a person (a user id) with that person's display name as it is now."""
    ids = {e["actor"].get("id") for e in entries if isinstance(e.get("actor"), dict)} - {None}
    if not ids:
        return entries
    rows = await session.execute(
        select(users.c.user_id, users.c.display_name).where(users.c.user_id.in_(ids))
    )
    names = {r.user_id: r.display_name for r in rows}
    for e in entries:
        actor = e.get("actor")
        if isinstance(actor, dict) and actor.get("id") in names:
            e["actor"] = {**actor, "name": names[actor["id"]]}
    return entries


def with_gaps(rows: list[Any]) -> list[dict[str, Any]]:
    """Timeline entries with the wait since the previous handoff, and, for work that resumed in a
    trace of its own (a deadline firing days later), the case's trace it links to."""
    root = next((r.trace_id for r in rows if r.trace_id), None)
    out: list[dict[str, Any]] = []
    previous = None
    for r in rows:
        entry = {
            k: getattr(r, k) for k in ("at", "service", "event", "actor", "detail", "trace_id", "span_id")
        }
        gap = r.at - previous if previous is not None else None
        entry["since_previous_ms"] = int(gap.total_seconds() * 1000) if gap is not None else None
        entry["linked_trace_id"] = root if r.trace_id and root and r.trace_id != root else None
        out.append(entry)
        previous = r.at
    return out
