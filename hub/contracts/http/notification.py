"""Request bodies notification takes from outside: the SMS provider's pushes in Alibaba Cloud's
shapes (SmsReport receipts, SmsUp inbound messages), one object per message, sent as JSON lists; and
the verification codes the gateway's citizen form asks for (issue 18)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


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


# --- SMS verification codes (issue 18, the citizen QR form): the gateway's citizen form asks -----------


class VerificationIn(BaseModel):
    """Send a verification code to this mobile (the citizen typed it on the public form)."""

    phone: str = Field(min_length=1, max_length=32)


class VerificationOut(BaseModel):
    verification_id: str
    expires_at: datetime
    resend_after_s: int  # when the same phone may ask for another code


class VerificationCheckIn(BaseModel):
    """Is this the code sent for this verification to this phone? `bound_to` names what the code is
    spent on (a hash of the form's token): the same code again for the same submission is still good
    (a retried submit), for another it is used up."""

    phone: str = Field(min_length=1, max_length=32)
    code: str = Field(min_length=1, max_length=12)
    bound_to: str = Field(min_length=8, max_length=64)


class VerificationCheckOut(BaseModel):
    verified: bool
