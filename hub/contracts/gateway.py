"""Events said by the gateway (its adapters to external systems)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from hub.contracts.base import Contract


class HotlineUrgeReceivedV1(Contract):
    """12345 urged (催办) one of its work orders: referral moves the case's open referrals one step up
    the supervision ladder."""

    TYPE = "hotline.urge_received.v1"

    case_no: str
    work_order_no: str | None = None  # the 12345 platform's own number
    urged_at: datetime | None = None


class HotlineRatingReceivedV1(Contract):
    """12345's callback result (回访) for a work order, said as an event while referral has no callback
    endpoint to take it (gateway/adapters/inbound.py prefers the endpoint when it answers)."""

    TYPE = "hotline.rating_received.v1"

    case_no: str
    satisfaction: Literal["satisfied", "basically_satisfied", "dissatisfied"]
    comment: str | None = None


class HotlineExtensionAnsweredV1(Contract):
    """12345 audited our extension request (延期申请审核): approved with a new limitTime, or denied.
    Referral moves the case's `due_by` and the lead's handling deadline (or records the denial)."""

    TYPE = "hotline.extension_answered.v1"

    case_no: str
    work_order_no: str | None = None
    delay_id: str  # the platform's number for the application it answered
    approved: bool
    limit_time: datetime | None = None  # the new 办理时限 (UTC) when approved
    source: str = "hotline12345.limitTime"
    opinion: str | None = None
    answered_at: datetime | None = None


class ExternalDeliveryFailedV1(Contract):
    """An update could not be delivered to an external system after every attempt: ops must act
    (GET /api/v1/ops/adapter-deliveries?status=failed; later updates of the case wait behind it)."""

    TYPE = "external.delivery_failed.v1"

    case_no: str
    system: str  # hotline12345 | police110 | court | procuratorate12309
    update: str  # registered | dispatched | acknowledged | replied | closed | reopened | referred_to_court
    # | returned (回退) | extension_requested (延期申请)
    attempts: int = 0
    reason: str | None = None


class ExternalUpdateDeliveredV1(Contract):
    """An external system confirmed one of our status updates (so the case timeline shows it)."""

    TYPE = "external.update_delivered.v1"

    case_no: str
    system: str
    update: str
    status: str | None = None  # the system's own state code after it, as text
    attempts: int = 1
