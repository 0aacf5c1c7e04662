"""Request bodies notification takes from outside: the SMS provider's pushes in Alibaba Cloud's
shapes (SmsReport receipts, SmsUp inbound messages), one object per message, sent as JSON lists."""

from __future__ import annotations

from pydantic import BaseModel


class SmsReport(BaseModel):
    """Alibaba Cloud SmsReport (短信回执), one per message."""

    phone_number: str = ""
    send_time: str | None = None
    report_time: str | None = None
    success: bool
    err_code: str = ""
    err_msg: str = ""
    sms_size: str | int | None = None
    biz_id: str | None = None
    out_id: str | None = None


class SmsUp(BaseModel):
    """Alibaba Cloud SmsUp (上行短信), one per inbound message."""

    phone_number: str
    content: str
    send_time: str | None = None
    dest_code: str = ""
    sequence_id: str | int
    sign_name: str | None = None
