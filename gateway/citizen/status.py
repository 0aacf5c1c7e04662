"""What the status page shows of a case (码上监督, issue 18): its number, category, state in the citizen's
words (the Open311 catalogue's status notes: one vocabulary for both public views), the handling units,
and the departments' replies (答复) — never the reporter, the text they typed or the address.

The state is referral's (intake's before referral has seen the case), read as the gateway itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.open311.catalogue import catalogue
from gateway.principals import CITIZEN_FORM, GATEWAY
from gateway.upstream import PassThrough, Upstream

RATEABLE = ("replied", "callback")  # the states a callback rating (回访) is taken in
OUTCOME_ZH = {
    "resolved": "已解决",
    "mediated": "已调解",
    "partially_resolved": "部分解决",
    "unresolved": "未能解决",
    "referred_to_litigation": "已引导诉讼",
}


@dataclass(frozen=True)
class Reply:
    department: str
    role: str  # 主办 | 协办
    at: datetime | None
    outcome: str
    summary: str


@dataclass(frozen=True)
class PublicStatus:
    case_no: str
    state: str
    note: str
    closed: bool
    category: str
    departments: list[str] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    satisfaction: str | None = None  # however it was rated (status page, SMS, staff)


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


async def public_status(upstream: Upstream, case_no: str, service_code: str) -> PublicStatus:
    cat = catalogue()
    service = cat.services.get(service_code)
    category = service.name if service else "其他"
    answer = await upstream.request("referral", "GET", f"/internal/v1/cases/{case_no}", principal=GATEWAY)
    if answer.status_code != 200:
        state = "registered"
        intake = await upstream.request("intake", "GET", f"/internal/v1/cases/{case_no}", principal=GATEWAY)
        if intake.status_code == 200:
            state = str(intake.json().get("status") or "registered")
        status, note = cat.open_or_closed(state)
        return PublicStatus(case_no, state, note, status == "closed", category)
    data = answer.json()
    state = str(data.get("status") or "registered")
    status, note = cat.open_or_closed(state)
    referrals = [r for r in data.get("referrals") or [] if r.get("status") != "cancelled"]
    current = max((int(r.get("round") or 1) for r in referrals), default=1)
    departments = [
        str(r.get("department_name") or "")
        for r in sorted(referrals, key=lambda r: r.get("role") != "lead")
        if int(r.get("round") or 1) == current
    ]
    replies = [
        Reply(
            department=str(r.get("department_name") or ""),
            role="主办" if r.get("role") == "lead" else "协办",
            at=_when(r.get("replied_at")),
            outcome=OUTCOME_ZH.get(str(r.get("reply_outcome")), ""),
            summary=str(r.get("reply_summary") or ""),
        )
        for r in data.get("referrals") or []
        if r.get("reply_summary")
    ]
    replies.sort(key=lambda r: r.at.timestamp() if r.at else 0.0, reverse=True)  # newest first
    return PublicStatus(
        case_no=case_no,
        state=state,
        note=note,
        closed=status == "closed",
        category=category,
        departments=[d for d in dict.fromkeys(departments) if d],
        replies=replies,
        satisfaction=data.get("satisfaction"),
    )


async def rate(upstream: Upstream, case_no: str, satisfaction: str) -> None:
    """The citizen's callback rating (回访), given to referral as the citizen form (PassThrough: refused)."""
    await upstream.json(
        "referral",
        "POST",
        f"/internal/v1/cases/{case_no}/callback",
        principal=CITIZEN_FORM,
        json={"satisfaction": satisfaction},
    )


__all__ = ["RATEABLE", "PassThrough", "PublicStatus", "Reply", "public_status", "rate"]
