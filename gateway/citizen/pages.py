"""The citizen form's pages (码上监督, issue 18), mobile first, in Chinese, no login: the form of a centre
(`/report/{centre_code}`), the status page of a filed case (`/report/status/{token}`, where the callback
rating is given once the case is replied, once), the centre's QR code, and friendly Chinese pages for
what goes wrong (an unknown centre or link, too many requests, a service away).

Pages are rendered on the server (Jinja2, autoescaped) under a strict Content-Security-Policy: only
our own script and style, no inline code. They are not part of the OpenAPI document (HTML, not API).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.citizen import common, forms, store
from gateway.citizen.qr import qr_png, qr_svg, report_url
from gateway.citizen.status import RATEABLE, public_status, rate
from gateway.open311.catalogue import catalogue
from gateway.upstream import PassThrough
from hub.problems import Problem

router = APIRouter(prefix="/report", include_in_schema=False)

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Frame-Options": "DENY"}
Token = Annotated[str, PathParam(max_length=64)]


def _local(value: datetime | None) -> str:
    return value.astimezone(CHINA).strftime("%Y年%m月%d日 %H:%M") if value else "—"


def page(
    template: str, http_status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    html = TEMPLATES.get_template(template).render(**context)
    return HTMLResponse(html, status_code=http_status, headers={**HEADERS, **(headers or {})})


def trouble(status: int, title: str, message: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    return page("trouble.html", status, headers, title=title, message=message)


def _read_refused(request: Request) -> HTMLResponse | None:
    verdict = common.take_read(request)
    if verdict.allowed:
        return None
    return trouble(
        429,
        "访问过于频繁",
        f"您的访问过于频繁，请 {verdict.retry_after_s} 秒后再试。",
        {"Retry-After": str(verdict.retry_after_s)},
    )


def _unavailable(problem: Problem | PassThrough) -> HTMLResponse:
    """A service away or refusing the gateway's own read: the citizen can only come back later."""
    retry = problem.headers.get("Retry-After", "5") if isinstance(problem, Problem) else "5"
    return trouble(
        503,
        "服务暂时繁忙",
        "系统暂时无法处理您的请求，请稍后刷新重试。紧急情况请拨打 110，其他诉求也可拨打 12345。",
        {"Retry-After": retry},
    )


# ---------------------------------------------------------------- the status page (before /{centre})


async def _filed(request: Request, token: str) -> store.Filed | None:
    return await store.by_token(common.runtime(request), forms.token_hash(token))


def _not_found_link() -> HTMLResponse:
    return trouble(
        404,
        "未找到该事项",
        "这个进度查询链接无效或已失效。请核对提交后显示的链接，或拨打 12345 凭事项编号查询。",
    )


@router.get("/status/{token}")
async def status_page(request: Request, token: Token, rated: str | None = None) -> Response:
    if (refused := _read_refused(request)) is not None:
        return refused
    try:
        filed = await _filed(request, token)
        if filed is None:
            return _not_found_link()
        status = await public_status(common.upstream(request), filed.case_no, filed.service_code)
    except (Problem, PassThrough) as exc:
        return _unavailable(exc)
    return _status(request, token, filed, status, notice="感谢您的评价！" if rated else None)


def _status(
    request: Request,
    token: str,
    filed: store.Filed,
    status: Any,
    *,
    notice: str | None = None,
    error: str | None = None,
    code: int = 200,
) -> HTMLResponse:
    rated = filed.satisfaction or status.satisfaction
    can_rate = not filed.anonymous and not rated and status.state in RATEABLE
    return page(
        "status.html",
        code,
        token=token,
        filed=filed,
        status=status,
        submitted=_local(filed.requested_at),
        replies=[{**vars(r), "when": _local(r.at)} for r in status.replies],
        rated=forms.SATISFACTION_ZH.get(rated or "", None),
        can_rate=can_rate,
        notice=notice,
        error=error,
    )


@router.post("/status/{token}/rating")
async def rating(
    request: Request, token: Token, satisfaction: Annotated[str, Form(max_length=4)] = ""
) -> Response:
    """The callback rating from the status page (1 满意 / 2 基本满意 / 3 不满意): once, once replied."""
    verdict = common.take_post(request)
    if not verdict.allowed:
        return trouble(
            429,
            "操作过于频繁",
            f"您的操作过于频繁，请 {verdict.retry_after_s} 秒后再试。",
            {"Retry-After": str(verdict.retry_after_s)},
        )
    rt = common.runtime(request)
    upstream = common.upstream(request)
    try:
        filed = await _filed(request, token)
        if filed is None:
            return _not_found_link()
        status = await public_status(upstream, filed.case_no, filed.service_code)
        chosen = forms.SATISFACTION.get(satisfaction.strip())
        refusal = _rating_refusal(filed, status, chosen)
        if refusal:
            return _status(request, token, filed, status, error=refusal, code=409 if chosen else 422)
        assert chosen is not None
        if not await store.claim_rating(rt, filed.case_no, chosen, datetime.now(UTC)):
            fresh = await _filed(request, token) or filed
            return _status(
                request, token, fresh, status, error="您已评价过该事项，每件事项只能评价一次。", code=409
            )
        try:
            await rate(upstream, filed.case_no, chosen)
        except (PassThrough, Problem):
            await store.release_rating(rt, filed.case_no)
            raise
    except PassThrough:
        return trouble(409, "暂时不能评价", "该事项当前不能评价，请刷新页面查看最新进度。")
    except Problem as exc:
        return _unavailable(exc)
    return RedirectResponse(f"/report/status/{token}?rated=1", status_code=303)


def _rating_refusal(filed: store.Filed, status: Any, chosen: str | None) -> str | None:
    if filed.anonymous:
        return "匿名反映的事项不进行回访评价。"
    if filed.satisfaction or status.satisfaction:
        return "您已评价过该事项，每件事项只能评价一次。"
    if status.state not in RATEABLE:
        return "承办部门答复后才能评价，请耐心等待。"
    if chosen is None:
        return "请选择一项评价：满意、基本满意或不满意。"
    return None


# ---------------------------------------------------------------- a centre's form and QR code


def _unknown_centre() -> HTMLResponse:
    return trouble(
        404,
        "未找到该综治中心",
        "这个二维码或链接对应的综治中心不存在或已停用。请向当地综治中心确认，或拨打 12345 反映问题。",
    )


@router.get("/{centre_code}")
async def report_page(request: Request, centre_code: Annotated[str, PathParam(max_length=20)]) -> Response:
    if (refused := _read_refused(request)) is not None:
        return refused
    if not forms.CENTRE_CODE.match(centre_code):
        return _unknown_centre()
    try:
        centre = await common.centre_or_none(request, centre_code)
    except (Problem, PassThrough) as exc:
        return _unavailable(exc)
    if centre is None:
        return _unknown_centre()
    groups: dict[str, list[Any]] = {}
    for service in catalogue().services.values():
        groups.setdefault(service.group or "其他", []).append(service)
    return page(
        "report.html",
        centre=centre,
        groups=groups,
        form_token=secrets.token_urlsafe(24),
        limits={"title": forms.TITLE_MAX, "description": forms.DESCRIPTION_MAX, "address": forms.ADDRESS_MAX},
    )


@router.get("/{centre_code}/qr.{kind}")
async def qr_code(
    request: Request, centre_code: Annotated[str, PathParam(max_length=20)], kind: str
) -> Response:
    """The centre's QR code (SVG to print, PNG to download), pointing at HUB_CITIZEN_PUBLIC_URL/report/…"""
    if kind not in ("svg", "png") or not forms.CENTRE_CODE.match(centre_code):
        return _unknown_centre()
    try:
        centre = await common.centre_or_none(request, centre_code)
    except (Problem, PassThrough) as exc:
        return _unavailable(exc)
    if centre is None:
        return _unknown_centre()
    url = report_url(common.public_base(request), centre_code)
    cache = {"Cache-Control": "no-cache"}
    if kind == "svg":
        return Response(
            qr_svg(url, f"{centre.name} 码上监督：{url}"), media_type="image/svg+xml", headers=cache
        )
    filename = f"qr-{centre_code}.png"
    return Response(
        qr_png(url),
        media_type="image/png",
        headers={**cache, "Content-Disposition": f'inline; filename="{filename}"'},
    )
