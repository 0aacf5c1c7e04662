"""Notification's internal HTTP interface: opt-outs, provider callbacks, the ops view of deliveries.

Provider callbacks take Alibaba Cloud's push shapes (SmsReport for receipts, SmsUp for inbound
messages) and answer ``{"code": 0, "msg": "成功"}`` as the provider expects. The provider pushes to the
gateway (`/adapters/sms/receipts`, `/adapters/sms/inbound`), which forwards them with the SMS adapter's
internal credential; here they are taken from that principal only (`sms_adapter_only`), so nobody else
reaching this port can forge a citizen's reply or a receipt. Nothing here echoes or logs a phone number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, select

from hub.contracts.http.notification import SmsReport, SmsUp
from hub.credential_guard import principal_of
from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.notification.domain.phones import NotAMobile, normalise_mobile
from services.notification.inbound import InboundReplies, InboundSms
from services.notification.sender import Sender
from services.notification.tables import deliveries

router = APIRouter(prefix="/internal/v1", tags=["notification"])

_CHINA = ZoneInfo("Asia/Shanghai")
ACK = {"code": 0, "msg": "成功"}
SMS_SYSTEM = "sms"  # the gateway's SMS adapter, as its principal names it


def sms_adapter_only(request: Request) -> None:
    """Provider pushes come only through the gateway's SMS adapter (a system principal, role adapter)."""
    principal = principal_of(request)
    if principal is None or (principal.kind, principal.role, principal.system) != (
        "system",
        "adapter",
        SMS_SYSTEM,
    ):
        raise Problem(
            403,
            "无权限",
            "短信回执和上行短信只接受网关短信适配器转发的请求",
            type_="sms-adapter-only",
        )


class OptOutIn(BaseModel):
    phone: str = Field(description="Mainland mobile number; stored only as a keyed hash")

    @field_validator("phone")
    @classmethod
    def _mobile(cls, value: str) -> str:
        try:
            return normalise_mobile(value)
        except NotAMobile as exc:
            raise ValueError(str(exc)) from None


class DeliveryOut(BaseModel):
    """A delivery as ops see it: case number and outcome, never the recipient."""

    id: str
    case_no: str | None
    template: str
    recipient_kind: str
    department: str | None
    status: str
    attempts: int
    provider: str | None
    last_error: str | None
    receipt_status: str | None
    receipt_code: str | None
    recovery: str | None
    not_before: datetime
    created_at: datetime
    sent_at: datetime | None


class DeliveriesOut(BaseModel):
    count: int
    items: list[DeliveryOut]


DeliveryStatus = Literal["pending", "sending", "sent", "delivered", "failed", "opted_out"]


def _local(text: str | None) -> datetime | None:
    """The provider's "2026-11-22 08:00:01" (China time) as an aware datetime."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_CHINA)


@router.post("/opt-outs", status_code=201, summary="A citizen asks for no more SMS (退订)")
async def opt_out(body: OptOutIn, request: Request) -> dict[str, bool]:
    replies: InboundReplies = request.app.state.inbound
    await replies.opt_out(body.phone, "api")
    return {"opted_out": True}


@router.post(
    "/sms/receipts",
    summary="Delivery receipts (Alibaba Cloud SmsReport push)",
    dependencies=[Depends(sms_adapter_only)],
)
async def receipts(request: Request, body: Annotated[list[SmsReport] | SmsReport, Body()]) -> dict[str, Any]:
    sender: Sender = request.app.state.sender
    reports = body if isinstance(body, list) else [body]
    outcomes: dict[str, int] = {}
    for report in reports:
        outcome = await sender.record_receipt(
            out_id=report.out_id or None,
            biz_id=report.biz_id or None,
            success=report.success,
            code=report.err_code or ("DELIVERED" if report.success else "UNKNOWN"),
            at=_local(report.report_time),
        )
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    if outcomes.get("busy"):
        # A receipt overtook our own record of the send: the provider pushes again later.
        raise Problem(503, "稍后重试", "a reported message is still being recorded", type_="retry-later")
    return {**ACK, "outcomes": outcomes}


@router.post(
    "/sms/inbound",
    summary="Inbound SMS (Alibaba Cloud SmsUp push): callback answers, opt-outs",
    dependencies=[Depends(sms_adapter_only)],
)
async def inbound(request: Request, body: Annotated[list[SmsUp] | SmsUp, Body()]) -> dict[str, Any]:
    replies: InboundReplies = request.app.state.inbound
    messages = body if isinstance(body, list) else [body]
    outcomes: dict[str, int] = {}
    for message in messages:
        outcome = await replies.receive(
            InboundSms(
                phone=message.phone_number,
                content=message.content,
                dest_code=message.dest_code,
                sequence_id=str(message.sequence_id),
                sent_at=_local(message.send_time),
            )
        )
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {**ACK, "outcomes": outcomes}


@router.get("/deliveries", response_model=DeliveriesOut, summary="Deliveries for ops (no phone numbers)")
async def list_deliveries(
    request: Request,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    case_no: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveriesOut:
    rt: ServiceRuntime = request.app.state.runtime
    t = deliveries
    conditions = []
    if status is not None:
        conditions.append(t.c.status == status)
    if case_no is not None:
        conditions.append(t.c.case_no == case_no)
    columns = [t.c[name] for name in DeliveryOut.model_fields]
    async with rt.db.sessions() as session:
        total = (await session.execute(select(func.count()).select_from(t).where(*conditions))).scalar_one()
        rows = (
            await session.execute(
                select(*columns).where(*conditions).order_by(t.c.created_at.desc()).limit(limit)
            )
        ).all()
    return DeliveriesOut(
        count=int(total), items=[DeliveryOut.model_validate(r, from_attributes=True) for r in rows]
    )
