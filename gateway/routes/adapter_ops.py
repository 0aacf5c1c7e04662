"""Ops view of the outbound delivery ledger (API.md "Adapters"): what was pushed to which external
system, what is waiting, what failed. No personal data: states, codes and errors only. Handlers
served by the gateway itself; their rows are in gateway/routes/table.py."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Path, Query, Request
from pydantic import BaseModel, Field

from gateway.adapters.ledger import case_sync, list_deliveries
from gateway.routes.cases import ensure_case_visible, is_scoped
from hub.problems import Problem
from hub.runtime import ServiceRuntime

log = logging.getLogger("hub.gateway.adapter_ops")

DeliveryStatus = Literal["pending", "sending", "sent", "skipped", "failed"]
SystemName = Literal["hotline12345", "police110", "court", "procuratorate12309"]


class DeliveryOut(BaseModel):
    id: int
    update_id: str
    case_no: str
    system: str
    update: str
    round: int
    status: str
    attempts: int
    last_error: str | None
    external_state: str | None
    created_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None


class DeliveriesOut(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[DeliveryOut]


class UpdateSyncOut(BaseModel):
    update: str
    round: int
    status: str  # sent only when every system that knows the case got it
    systems: dict[str, str]


def _runtime(request: Request) -> ServiceRuntime:
    rt: ServiceRuntime = request.app.state.runtime
    return rt


async def get_adapter_deliveries(
    request: Request,
    status: DeliveryStatus | None = None,
    system: SystemName | None = None,
    case_no: Annotated[str | None, Query(max_length=32)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveriesOut:
    """The ledger holds no centre: a person scoped to a centre (or a department) reads it one case at a
    time, a case they may see (docs/decisions/0013-centre-scoping.md); the whole ledger is for
    callers without a centre."""
    if case_no is not None:
        await ensure_case_visible(request, case_no)
    elif is_scoped(request):
        raise Problem(
            403,
            "无权查看全部推送记录",
            "按中心范围查看时须指定事项编号 case_no（推送台账不按中心划分）",
            type_="forbidden",
        )
    total, items = await list_deliveries(
        _runtime(request).db,
        status=status,
        system=system,
        case_no=case_no,
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    return DeliveriesOut(
        total=total, page=page, page_size=page_size, items=[DeliveryOut.model_validate(i) for i in items]
    )


async def get_case_adapter_sync(case_no: str, request: Request) -> list[UpdateSyncOut]:
    await ensure_case_visible(request, case_no)
    updates = await case_sync(_runtime(request).db, case_no)
    if not updates:
        raise Problem(404, "未找到", f"事项 {case_no} 没有推送给外部系统的记录", type_="case-not-found")
    return [UpdateSyncOut.model_validate(u) for u in updates]


class RetryIn(BaseModel):
    reason: Annotated[str, Field(min_length=2, max_length=300)]


async def retry_adapter_delivery(
    delivery_id: Annotated[int, Path(ge=1, le=2**62)], body: RetryIn, request: Request
) -> DeliveryOut:
    """A delivery the sender gave up on goes back to the ledger's queue with a fresh set of attempts
    (ops, issue 15); its order among the case's updates is kept. Only a failed one can be retried."""
    from sqlalchemy import select, update

    from gateway.tables import adapter_deliveries as d

    db = _runtime(request).db
    async with db.transaction() as session:
        row = (await session.execute(select(d).where(d.c.id == delivery_id).with_for_update())).first()
        if row is None:
            raise Problem(404, "未找到", f"没有编号为 {delivery_id} 的推送记录", type_="delivery-not-found")
        await ensure_case_visible(request, row.case_no)  # a person scoped to a centre: its cases only
        if row.status != "failed":
            raise Problem(
                409,
                "无需重试",
                f"推送记录 {delivery_id} 的状态是 {row.status}，只有失败的推送可以重试",
                type_="delivery-not-failed",
            )
        await session.execute(
            update(d)
            .where(d.c.id == delivery_id)
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=datetime.now(UTC),
                finished_at=None,
                claimed_until=None,
            )
        )
    log.warning("adapter delivery %s retried by ops (%s)", delivery_id, row.system)
    async with db.sessions() as session:
        fresh = (await session.execute(select(d).where(d.c.id == delivery_id))).one()
    return DeliveryOut(
        id=fresh.id,
        update_id=fresh.update_id,
        case_no=fresh.case_no,
        system=fresh.system,
        update=fresh.update_name,
        round=fresh.round,
        status=fresh.status,
        attempts=fresh.attempts,
        last_error=fresh.last_error,
        external_state=fresh.external_state,
        created_at=fresh.created_at,
        next_attempt_at=fresh.next_attempt_at,
        finished_at=fresh.finished_at,
    )
