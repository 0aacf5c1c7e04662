"""The citizen form's submission (码上监督, issue 18): what a citizen may type, checked field by field with
a Chinese message each, and the case body intake registers from it (channel `web`).

Tokens: the page hands each form a random `form_token`; a submission is known by `form_key`, its SHA-256,
and registered with source_ref `qr-<form_key>`, so a retried submit is the same case at intake too. The
status page's token is derived from the form key with HUB_HASH_KEY (a retry gets the same link back) and
stored only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

from pydantic import BaseModel, Field

from gateway.open311.catalogue import Service
from hub.crypto import keyed_hash

CENTRE_CODE = re.compile(r"^\d{6}(\d{6})?$")  # GB/T 2260 district, or a 12-digit street or community
FORM_TOKEN = r"^[A-Za-z0-9_-]{16,64}$"  # noqa: S105 - a pattern, not a secret
MOBILE = re.compile(r"^1[3-9]\d{9}$")
TITLE_MAX, DESCRIPTION_MIN, DESCRIPTION_MAX, ADDRESS_MAX, NAME_MAX = 40, 5, 2000, 100, 20

# The callback rating as the SMS and the status page number it (RULES.md: 1 满意 / 2 基本满意 / 3 不满意).
SATISFACTION = {"1": "satisfied", "2": "basically_satisfied", "3": "dissatisfied"}
SATISFACTION_ZH = {"satisfied": "满意", "basically_satisfied": "基本满意", "dissatisfied": "不满意"}


class CodeIn(BaseModel):
    phone: str = Field(default="", max_length=32, description="The reporter's mainland mobile")


class CodeOut(BaseModel):
    verification_id: str
    resend_after_s: int
    message: str


class ReportIn(BaseModel):
    """What the form posts (JSON). Lenient types: every field's own check says what is wrong, in Chinese."""

    form_token: str = Field(pattern=FORM_TOKEN, description="The token the page gave this form")
    category: str = Field(default="", max_length=64)
    title: str = Field(default="", max_length=400)
    description: str = Field(default="", max_length=8000)
    address: str = Field(default="", max_length=1000)
    anonymous: bool = False
    name: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=32)
    # Goes into notification's path: a UUID or nothing, never a path of its own.
    verification_id: str = Field(default="", pattern=r"^([0-9a-fA-F-]{36})?$")
    code: str = Field(default="", max_length=12)


class ReportOut(BaseModel):
    case_no: str
    status_url: str
    anonymous: bool


def _clean(value: str) -> str:
    return "".join(ch for ch in value.strip() if unicodedata.category(ch) not in ("Cc", "Cs") or ch == "\n")


def _one_line(value: str) -> str:
    return " ".join(_clean(value).split())


def mobile(raw: str) -> str | None:
    """The 11-digit mainland mobile in `raw` (spaces, dashes and +86 allowed), None when it is not one."""
    digits = re.sub(r"[\s\-()]", "", raw.strip())
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    return digits if MOBILE.match(digits) else None


def check_report(body: ReportIn, services: dict[str, Service]) -> list[dict[str, str]]:
    """Every field's problem as {field, message}, in the order the form shows them (empty: fine)."""
    errors: list[dict[str, str]] = []

    def wrong(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    if body.category not in services:
        wrong("category", "请选择问题类别。")
    title = _one_line(body.title)
    if not title:
        wrong("title", "请填写标题。")
    elif len(title) > TITLE_MAX:
        wrong("title", f"标题最多 {TITLE_MAX} 个字（现有 {len(title)} 个）。")
    description = _clean(body.description)
    if not description:
        wrong("description", "请描述您反映的问题。")
    elif len(description) < DESCRIPTION_MIN:
        wrong("description", f"问题描述至少 {DESCRIPTION_MIN} 个字（现有 {len(description)} 个）。")
    elif len(description) > DESCRIPTION_MAX:
        wrong("description", f"问题描述最多 {DESCRIPTION_MAX} 个字（现有 {len(description)} 个）。")
    address = _one_line(body.address)
    if not address:
        wrong("address", "请填写问题发生的地址。")
    elif len(address) > ADDRESS_MAX:
        wrong("address", f"地址最多 {ADDRESS_MAX} 个字（现有 {len(address)} 个）。")
    if body.anonymous:
        return errors
    name = _one_line(body.name)
    if not name:
        wrong("name", "请填写姓名（或选择匿名反映）。")
    elif len(name) > NAME_MAX:
        wrong("name", f"姓名最多 {NAME_MAX} 个字。")
    if not body.phone.strip():
        wrong("phone", "请填写手机号码（或选择匿名反映）。")
    elif mobile(body.phone) is None:
        wrong("phone", "请填写正确的 11 位手机号码。")
    if not body.verification_id:
        wrong("code", "请先点击“获取验证码”，再填写短信中的验证码。")
    elif not re.fullmatch(r"\d{6}", body.code.strip()):
        wrong("code", "请填写短信中的 6 位数字验证码。")
    return errors


def case_body(body: ReportIn, service: Service, centre_code: str, key: str) -> dict[str, Any]:
    """The case as intake registers it: channel web, the submission as its source reference."""
    reporter: dict[str, Any] = (
        {"anonymous": True} if body.anonymous else {"name": _one_line(body.name), "phone": mobile(body.phone)}
    )
    location: dict[str, Any] = {"address": _one_line(body.address)}
    if len(centre_code) == 12:  # a street's or community's centre: the case is theirs
        location["street_code"] = centre_code
    case: dict[str, Any] = {
        "channel": "web",
        "source_ref": f"qr-{key[:40]}",
        "request_type": service.request_type,
        "title": _one_line(body.title),
        "description": _clean(body.description),
        "reporter": reporter,
        "location": location,
    }
    if service.category:
        case["category"] = service.category
    return case


def form_key(form_token: str) -> str:
    return hashlib.sha256(f"citizen-form:{form_token}".encode()).hexdigest()


def status_token(hash_key: str, key: str) -> str:
    """The status page's token of a submission: 160 bits no one can derive without HUB_HASH_KEY."""
    return keyed_hash(hash_key, f"citizen-status:{key}")[:40]


def token_hash(token: str) -> str:
    return hashlib.sha256(f"citizen-status:{token}".encode()).hexdigest()
