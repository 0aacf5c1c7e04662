"""The SMS provider's pushes in: delivery receipts (SmsReport) and citizens' messages (SmsUp).

The provider (Alibaba Cloud, or the loopback simulator) pushes to the public edge,
`/adapters/sms/receipts` and `/adapters/sms/inbound`; the gateway forwards the body unchanged to
notification with the SMS adapter's internal credential (gateway/principals.py `SMS_ADAPTER`), the only
principal notification takes them from. The provider's push carries no signature, so its URLs carry a
secret of ours (`?token=`, HUB_SMS_WEBHOOK_TOKEN; production refuses the development one), checked
before the body is read. The body is bounded (1 MiB) and never logged: it holds phone numbers.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from fastapi import APIRouter, Request, Response

from gateway.principals import SMS_ADAPTER
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream
from hub.problems import Problem

MAX_BODY = 1 << 20
PATHS = {"receipts": "/internal/v1/sms/receipts", "inbound": "/internal/v1/sms/inbound"}

router = APIRouter(prefix="/adapters/sms", tags=["adapters"])


def push_url(gateway_url: str, kind: str, token: str) -> str:
    """Where the provider is told to push (`receipts` or `inbound`)."""
    return f"{gateway_url.rstrip('/')}/adapters/sms/{kind}?token={token}"


def _check_token(request: Request) -> None:
    settings: GatewaySettings = request.app.state.runtime.settings
    given = request.query_params.get("token") or request.headers.get("x-hub-webhook-token") or ""
    if not hmac.compare_digest(given.encode(), settings.sms_webhook_token.encode()):
        raise Problem(401, "未认证", "短信推送地址的令牌缺失或不正确（token）", type_="sms-webhook-token")


async def _body(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise Problem(413, "请求体过大", "请求体不能超过 1 MiB", type_="payload-too-large")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise Problem(413, "请求体过大", "请求体不能超过 1 MiB", type_="payload-too-large")
    try:
        return json.loads(raw)
    except ValueError:
        raise Problem(400, "推送内容不是 JSON", "短信推送必须是 JSON", type_="invalid-json") from None


async def _forward(request: Request, kind: str) -> Response:
    _check_token(request)
    body = await _body(request)
    upstream: Upstream = request.app.state.upstream
    answer = await upstream.request("notification", "POST", PATHS[kind], principal=SMS_ADAPTER, json=body)
    return Response(
        answer.content, status_code=answer.status_code, media_type=answer.headers.get("content-type")
    )


@router.post("/receipts", summary="SMS delivery receipts (provider push, forwarded to notification)")
async def sms_receipts(request: Request) -> Response:
    return await _forward(request, "receipts")


@router.post("/inbound", summary="Inbound SMS (provider push, forwarded to notification)")
async def sms_inbound(request: Request) -> Response:
    return await _forward(request, "inbound")
