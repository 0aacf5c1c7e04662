"""The citizen form's JSON endpoints (码上监督, issue 18; no login): an SMS verification code for the
reporter's mobile, and the submission that registers the case at intake on channel `web`.

Every answer other than success is problem details in Chinese (`errors` names the form's own fields);
a wrong or expired code registers nothing. Limits: the client address's bucket here
(HUB_CITIZEN_POSTS_PER_MINUTE), the mobile's in notification (one code per interval, a few an hour).
Nothing here logs the name, phone or code, nor puts them on a span.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel

from gateway.citizen import common, forms, store
from gateway.citizen.qr import report_url
from gateway.open311.catalogue import catalogue
from gateway.principals import CITIZEN_FORM
from gateway.upstream import PassThrough
from hub.problems import Problem

router = APIRouter(prefix="/report", tags=["citizen form"])

CentreCode = Annotated[
    str, Path(pattern=forms.CENTRE_CODE.pattern, description="The centre's area code (6 or 12 digits)")
]
# Intake's field paths → the form's fields (a refusal intake makes is put back where it was typed).
FIELDS = {"reporter.name": "name", "reporter.phone": "phone", "location.address": "address"}


async def _centre(request: Request, code: str) -> None:
    if await common.centre_or_none(request, code) is None:
        raise Problem(404, "未找到该中心", f"没有编码为 {code} 的综治中心", type_="centre-not-found")


@router.post(
    "/{centre_code}/code",
    status_code=201,
    response_model=forms.CodeOut,
    summary="码上监督: send an SMS verification code to the reporter's mobile (no login; limited per "
    "address and per mobile)",
)
async def post_code(centre_code: CentreCode, body: forms.CodeIn, request: Request) -> forms.CodeOut:
    common.post_allowed(request)
    await _centre(request, centre_code)
    phone = forms.mobile(body.phone)
    if phone is None:
        raise Problem(
            422,
            "请检查填写内容",
            "请填写正确的 11 位手机号码",
            type_="validation-error",
            errors=[{"field": "phone", "message": "请填写正确的 11 位手机号码。"}],
        )
    answer = await _notification(request, "/internal/v1/verifications", {"phone": phone})
    return forms.CodeOut(
        verification_id=str(answer["verification_id"]),
        resend_after_s=int(answer["resend_after_s"]),
        message="验证码已发送，请查看手机短信",
    )


@router.post(
    "/{centre_code}/cases",
    status_code=201,
    response_model=forms.ReportOut,
    summary="码上监督: register the citizen's report (channel web); the same form_token again is the "
    "same case (200)",
)
async def post_report(
    centre_code: CentreCode, body: forms.ReportIn, request: Request, response: Response
) -> forms.ReportOut:
    common.post_allowed(request)
    await _centre(request, centre_code)
    rt = common.runtime(request)
    key = forms.form_key(body.form_token)
    token = forms.status_token(rt.settings.hash_key, key)
    link = f"{common.public_base(request)}/report/status/{token}"
    known = await store.by_form(rt, key)
    if known is not None:  # a retried submit: the case it registered
        response.status_code = 200
        return forms.ReportOut(case_no=known.case_no, status_url=link, anonymous=known.anonymous)
    services = catalogue().services
    errors = forms.check_report(body, services)
    if errors:
        raise Problem(
            422,
            "请检查填写内容",
            f"有 {len(errors)} 项需要修改",
            type_="validation-error",
            errors=errors,
        )
    if not body.anonymous:
        await _verified(request, body, key)
    service = services[body.category]
    case_no, created = await _register(request, forms.case_body(body, service, centre_code, key))
    await store.record(
        rt,
        case_no=case_no,
        service_code=service.code,
        centre_code=centre_code,
        key=key,
        token_hash=forms.token_hash(token),
        anonymous=body.anonymous,
        at=datetime.now(UTC),
    )
    if not created:
        response.status_code = 200
    return forms.ReportOut(case_no=case_no, status_url=link, anonymous=body.anonymous)


async def _verified(request: Request, body: forms.ReportIn, key: str) -> None:
    """The code is the one sent to this mobile (notification counts the attempt); spent on this form."""
    await _notification(
        request,
        f"/internal/v1/verifications/{body.verification_id}/check",
        {"phone": forms.mobile(body.phone), "code": body.code.strip(), "bound_to": key},
    )


async def _notification(request: Request, path: str, body: dict[str, Any]) -> Any:
    """A call to notification's verification endpoints; its refusal (Chinese problem details) is the
    citizen's answer, with its Retry-After (a 429 or a 503 says when to ask again)."""
    answer = await common.upstream(request).request(
        "notification", "POST", path, principal=CITIZEN_FORM, json=body
    )
    if answer.status_code < 400:
        return answer.json()
    try:
        doc = answer.json()
    except ValueError:
        raise PassThrough(answer) from None
    if not isinstance(doc, dict):
        raise PassThrough(answer)
    extra = {k: v for k, v in doc.items() if k not in ("type", "title", "status", "detail", "instance")}
    problem = Problem(
        answer.status_code,
        str(doc.get("title") or "请求未能完成"),
        str(doc.get("detail") or ""),
        type_=str(doc.get("type") or "about:blank"),
        **extra,
    )
    if "retry-after" in answer.headers:
        problem.headers = {"Retry-After": answer.headers["retry-after"]}
    raise problem


async def _register(request: Request, case: dict[str, Any]) -> tuple[str, bool]:
    answer = await common.upstream(request).request(
        "intake", "POST", "/internal/v1/cases", principal=CITIZEN_FORM, json=case
    )
    if answer.status_code in (200, 201):
        return str(answer.json()["case_no"]), answer.status_code == 201
    if answer.status_code == 422:
        problem = answer.json() if answer.content else {}
        errors = [
            {"field": FIELDS.get(str(e.get("field")), str(e.get("field"))), "message": "填写内容不符合要求。"}
            for e in problem.get("errors") or []
        ]
        raise Problem(
            422,
            "请检查填写内容",
            "部分内容不符合要求，请修改后再提交",
            type_="validation-error",
            errors=errors,
        )
    raise PassThrough(answer)


class LinkOut(BaseModel):
    centre_code: str
    centre_name: str
    url: str  # what the QR code points at
    qr_svg: str
    qr_png: str


@router.get(
    "/{centre_code}/link",
    response_model=LinkOut,
    summary="码上监督: a centre's public form address and its QR code images (for the console's poster)",
)
async def get_link(centre_code: CentreCode, request: Request) -> LinkOut:
    centre = await common.centre_or_none(request, centre_code)
    if centre is None:
        raise Problem(404, "未找到该中心", f"没有编码为 {centre_code} 的综治中心", type_="centre-not-found")
    return LinkOut(
        centre_code=centre.code,
        centre_name=centre.name,
        url=report_url(common.public_base(request), centre.code),
        qr_svg=f"/report/{centre.code}/qr.svg",
        qr_png=f"/report/{centre.code}/qr.png",
    )
