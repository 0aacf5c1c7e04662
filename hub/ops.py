"""What every service tells ops about its own plumbing: outbox rows not relayed in time, and its
dead letters (list, show, replay, resolve: hub/messaging/dead_letters.py), for the gateway's
/api/v1/ops views.

`GET /internal/v1/ops/outbox?older_than_s=` on each service behind the gateway (the gateway reads
its own table directly): event type, case number, age, trace id; never the event body.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import Table, select

from hub.db import Database
from hub.messaging.dead_letters import Actor, DeadLetterDesk
from hub.problems import Problem
from hub.tracing import split_traceparent


class StaleOutboxRow(BaseModel):
    event_id: str
    type: str
    case_no: str | None
    created_at: datetime
    attempts: int
    trace_id: str | None


class StaleOutboxOut(BaseModel):
    service: str
    items: list[StaleOutboxRow]


async def stale_outbox(
    db: Database, table: Table, older_than: timedelta, limit: int = 200
) -> list[StaleOutboxRow]:
    """Unpublished rows created before now - older_than, oldest first (the `ix_outbox_pending` index)."""
    before = datetime.now(UTC) - older_than
    async with db.sessions() as session:
        rows = (
            await session.execute(
                select(table.c.event_id, table.c.type, table.c.subject, table.c.created_at)
                .add_columns(table.c.attempts, table.c.traceparent)
                .where(table.c.published_at.is_(None), table.c.created_at <= before)
                .order_by(table.c.id)
                .limit(limit)
            )
        ).all()
    return [
        StaleOutboxRow(
            event_id=r.event_id,
            type=r.type,
            case_no=r.subject,
            created_at=r.created_at,
            attempts=r.attempts,
            trace_id=split_traceparent(r.traceparent)[0],
        )
        for r in rows
    ]


def outbox_router() -> APIRouter:
    router = APIRouter(prefix="/internal/v1/ops", tags=["ops"])

    @router.get("/outbox", response_model=StaleOutboxOut, summary="Outbox rows not relayed in time")
    async def get_stale_outbox(
        request: Request, older_than_s: Annotated[int, Query(ge=0, le=86_400 * 30)] = 60
    ) -> Any:
        rt = request.app.state.runtime
        items = await stale_outbox(rt.db, rt.kit.outbox, timedelta(seconds=older_than_s))
        return StaleOutboxOut(service=rt.service, items=items)

    return router


# --- dead letters (issue 16): each service lists, replays and resolves its own ---------------------

DEAD_LETTER_ROLE = "ops"
ReasonText = Annotated[str, Field(min_length=2, max_length=500)]


class DeadLetterOut(BaseModel):
    """One dead letter as ops see it: ids, type, case number, reason and times; never the event data."""

    id: str  # "<service>-<n>": stable, and names the service that owns it
    service: str
    queue: str
    event_id: str
    event_type: str | None
    case_no: str | None
    reason: str
    attempts: int  # retries it had before it died
    deaths: int  # how many times it was dead-lettered (a failed replay counts again)
    first_dead_at: datetime
    last_dead_at: datetime
    status: str  # open | replaying | resolved
    resolution: str | None  # replayed | dismissed
    resolved_at: datetime | None
    resolved_by: str | None  # role:id of the person
    resolve_reason: str | None
    replays: int
    history: list[dict[str, Any]] | None = None  # show only: every action with who and why


class DeadLettersOut(BaseModel):
    total: int
    items: list[DeadLetterOut]
    unavailable: list[str] = []  # services that did not answer (the gateway's merged list)


class DeadLetterActionIn(BaseModel):
    reason: ReasonText


DeadLetterStatus = Literal["open", "replaying", "resolved", "all"]


def dead_letter_actor(request: Request) -> Actor:
    """The person the gateway vouched for; only ops handle dead letters."""
    from hub.credential_guard import principal_of

    who = principal_of(request)
    if who is None or who.role != DEAD_LETTER_ROLE:
        raise Problem(403, "无权处理死信", "只有运维人员（ops）可以查看和处理死信", type_="forbidden")
    return Actor(who.role, who.id)


def dead_letter_number(dead_letter_id: str, service: str) -> int:
    prefix = f"{service}-"
    tail = dead_letter_id[len(prefix) :] if dead_letter_id.startswith(prefix) else ""
    if not tail.isdigit() or len(tail) > 18:
        raise Problem(
            404, "未找到", f"没有编号为 {dead_letter_id[:80]} 的死信", type_="dead-letter-not-found"
        )
    return int(tail)


def dead_letters_router() -> APIRouter:
    router = APIRouter(prefix="/internal/v1/ops/dead-letters", tags=["ops"])

    def desk(request: Request) -> DeadLetterDesk:
        found: DeadLetterDesk = request.app.state.runtime.dead_letters
        return found

    @router.get("", response_model=DeadLettersOut, summary="This service's dead letters, newest first")
    async def list_dead_letters(
        request: Request,
        queue: Annotated[str | None, Query(max_length=100)] = None,
        since: AwareDatetime | None = None,
        status: DeadLetterStatus = "open",
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> Any:
        dead_letter_actor(request)
        total, items = await desk(request).list(
            queue=queue, since=since, status=None if status == "all" else status, limit=limit
        )
        return DeadLettersOut(total=total, items=[DeadLetterOut.model_validate(i) for i in items])

    @router.get("/{dead_letter_id}", response_model=DeadLetterOut, summary="One dead letter with its history")
    async def get_dead_letter(dead_letter_id: str, request: Request) -> Any:
        dead_letter_actor(request)
        d = desk(request)
        return await d.get(dead_letter_number(dead_letter_id, d.service))

    @router.post("/{dead_letter_id}/replay", response_model=DeadLetterOut, summary="Replay (same event id)")
    async def replay_dead_letter(dead_letter_id: str, body: DeadLetterActionIn, request: Request) -> Any:
        actor = dead_letter_actor(request)
        d = desk(request)
        return await d.replay(dead_letter_number(dead_letter_id, d.service), actor, body.reason)

    @router.post("/{dead_letter_id}/resolve", response_model=DeadLetterOut, summary="Resolve without replay")
    async def resolve_dead_letter(dead_letter_id: str, body: DeadLetterActionIn, request: Request) -> Any:
        actor = dead_letter_actor(request)
        d = desk(request)
        return await d.resolve(dead_letter_number(dead_letter_id, d.service), actor, body.reason)

    return router
