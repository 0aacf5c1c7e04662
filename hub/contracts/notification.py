"""Events said by notification."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from hub.contracts.base import Contract


class NotificationSentV1(Contract):
    TYPE = "notification.sent.v1"

    delivery_id: str
    case_no: str | None = None
    template: str
    recipient_kind: str  # citizen | department | department_webhook
    provider: str
    segments: int = 1


class NotificationFailedV1(Contract):
    TYPE = "notification.failed.v1"

    delivery_id: str
    case_no: str | None = None
    template: str
    recipient_kind: str
    reason: str


class NotificationDeliveredV1(Contract):
    """The provider's delivery receipt (状态报告) says the handset has the message."""

    TYPE = "notification.delivered.v1"

    delivery_id: str
    case_no: str | None = None
    template: str
    recipient_kind: str
    provider: str | None = None
    delivered_at: datetime


class SmsReplyReceivedV1(Contract):
    """A citizen answered the callback invitation (回访) by SMS: 1 满意 / 2 基本满意 / 3 不满意."""

    TYPE = "sms.reply_received.v1"

    case_no: str
    satisfaction: Literal["satisfied", "basically_satisfied", "dissatisfied"]
    received_at: datetime
    delivery_id: str | None = None  # the callback invitation answered
