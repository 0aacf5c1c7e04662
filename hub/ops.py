"""What every service tells ops about its own plumbing: outbox rows not relayed in time.

`GET /internal/v1/ops/outbox?older_than_s=` on each service behind the gateway (the gateway reads
its own table directly): event type, case number, age, trace id; never the event body.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import Table, select

from hub.db import Database
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
