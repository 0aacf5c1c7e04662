"""Department systems by signed webhook (enterprise-chat robot style): JSON body, timestamp + HMAC.

Two styles, chosen per unit in the contact registry:
- ``hub``: POST the JSON body to the unit's URL with ``X-Hub-Timestamp`` (unix seconds),
  ``X-Hub-Signature: sha256=<hex HMAC(secret, timestamp "." body)>`` (or ``sm3=``) and
  ``X-Hub-Delivery: <delivery id>``, the idempotency key: a receiver that keeps the ids it has seen
  gets each message exactly once even when we resend after a crash.
- ``dingtalk``: the robot URL (already holding its access_token) with ``timestamp`` (ms) and
  ``sign`` appended, body ``{"msgtype": "text", "text": {"content": …}}``, answer ``{"errcode": 0}``.

The body carries the message text and the case number, template and parameters; department messages
never carry a citizen's personal data.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from opentelemetry.instrumentation.utils import suppress_http_instrumentation

from services.notification.contacts import Webhook
from services.notification.domain.signing import dingtalk_signed_url, hub_signature_headers

# DingTalk robot errcodes worth retrying: sending too fast, system busy.
_DINGTALK_TRANSIENT = {130101, -1}


class WebhookUnavailable(Exception):
    """Not reached, or failed transiently: retry later."""


class WebhookRejected(Exception):
    """Refused for good (bad signature, unknown robot, bad request): do not retry."""


@dataclass(frozen=True)
class WebhookMessage:
    delivery_id: str
    case_no: str | None
    department: str | None
    template: str
    title: str
    text: str
    params: dict[str, str]


class WebhookChannel:
    name = "webhook"

    def __init__(
        self, client: httpx.AsyncClient, clock: Callable[[], datetime], *, timeout_s: float = 10.0
    ) -> None:
        self.client = client
        self.clock = clock
        self.timeout_s = timeout_s

    async def send(self, hook: Webhook, message: WebhookMessage) -> str:
        """Deliver `message`; returns a reference for the ledger (the delivery id for hub style)."""
        now = self.clock()
        doc: dict[str, Any] = {
            "msgtype": "text",
            "text": {"content": message.text},
        }
        if hook.style == "dingtalk":
            url = dingtalk_signed_url(hook.url, hook.secret, int(now.timestamp() * 1000))
            headers = {"Content-Type": "application/json"}
        else:
            doc["hub"] = {
                "delivery_id": message.delivery_id,
                "case_no": message.case_no,
                "department": message.department,
                "template": message.template,
                "title": message.title,
                "params": message.params,
                "sent_at": now.isoformat(),
            }
            url = hook.url
            headers = {"Content-Type": "application/json", "X-Hub-Delivery": message.delivery_id}
        body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        if hook.style == "hub":
            headers.update(hub_signature_headers(hook.secret, body, now, hook.algorithm))
        # A robot URL carries its access token and signature: keep it out of the HTTP client span.
        quiet = suppress_http_instrumentation() if hook.style == "dingtalk" else contextlib.nullcontext()
        try:
            with quiet:
                response = await self.client.post(url, content=body, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise WebhookUnavailable(f"webhook unreachable: {type(exc).__name__}") from None
        if response.status_code in (408, 425, 429) or response.status_code >= 500:
            raise WebhookUnavailable(f"webhook HTTP {response.status_code}")
        if response.status_code >= 400:
            raise WebhookRejected(f"webhook HTTP {response.status_code}")
        if hook.style == "dingtalk":
            try:
                answer = response.json()
            except ValueError:
                raise WebhookUnavailable("robot answered with a non-JSON body") from None
            code = answer.get("errcode") if isinstance(answer, dict) else None
            if code in _DINGTALK_TRANSIENT:
                raise WebhookUnavailable(f"robot errcode {code}")
            if code != 0:
                raise WebhookRejected(f"robot errcode {code}")
        return message.delivery_id
