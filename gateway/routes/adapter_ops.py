"""Ops view of the outbound delivery ledger (API.md "Adapters"): what was pushed to which external
system, what is waiting, what failed. No personal data: states, codes and errors only. Handlers
served by the gateway itself; their rows are in gateway/routes/table.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query, Request
from pydantic import BaseModel

from gateway.adapters.ledger import case_sync, list_deliveries
from gateway.routes.cases import ensure_case_visible, is_scoped
from hub.problems import Problem
from hub.runtime import ServiceRuntime

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
