"""The court's mediation platform API (诉调对接平台), spoken its way (docs/adapters/court.md).

Requests: JSON `{clientId, reqTime (yyyyMMddHHmmssSSS, Beijing), reqId, bizData (JSON text), sign}`,
`sign` = lowercase hex HMAC-SM3(secret, the other parameters sorted `k=v&…`) — courts use the
national algorithms (密评). `reqId` is our update id; a repeated one is answered `ret 0` with
`content.repeat = true` and not applied again. Answers: `{ret, msg, content}`, ret 0 = success.
"""

from __future__ import annotations

from typing import Any

import httpx

from gateway.adapters.common import Delivery, Outcome, compact_json, hmac_hex, local_compact, sorted_params
from gateway.adapters.court import mapping
from hub.config import Settings

RESULT_PATH = "/tjpt/api/v1/tjjg"
RETRYABLE_RETS = {500, 503, 1, 4}  # 系统繁忙; 签名 (keys rotating); 请求过期 (clock skew)


def sign(params: dict[str, Any], secret: str) -> str:
    return hmac_hex(secret, sorted_params(params), "sm3")


class CourtClient:
    system = mapping.SYSTEM

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, client_id: str, secret: str, timeout: float
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.secret = secret
        self.timeout = timeout

    async def deliver(self, delivery: Delivery) -> Outcome:
        biz = mapping.result(delivery.update, delivery.case_no, delivery.external_ref, delivery.data)
        params: dict[str, Any] = {
            "clientId": self.client_id,
            "reqTime": local_compact(millis=True),
            "reqId": delivery.update_id,
            "bizData": compact_json(biz),
        }
        params["sign"] = sign(params, self.secret)
        try:
            response = await self.http.post(self.base_url + RESULT_PATH, json=params, timeout=self.timeout)
        except httpx.HTTPError as exc:
            return Outcome(ok=False, retryable=True, detail=f"court unreachable: {type(exc).__name__}")
        if response.status_code != 200:
            retryable = response.status_code >= 500 or response.status_code in (408, 429)
            return Outcome(ok=False, retryable=retryable, detail=f"court HTTP {response.status_code}")
        try:
            doc = response.json()
            ret = int(doc["ret"])
        except (ValueError, KeyError, TypeError):
            return Outcome(
                ok=False, retryable=True, detail="court answered something that is not its envelope"
            )
        content = doc.get("content") or {}
        if ret == 0:
            return Outcome(
                ok=True,
                external_ref=content.get("ah"),
                external_state=str(content["tjzt"]) if content.get("tjzt") is not None else None,
                duplicate=bool(content.get("repeat")),
            )
        return Outcome(
            ok=False,
            retryable=ret in RETRYABLE_RETS,
            detail=f"court ret {ret}: {str(doc.get('msg') or '')[:120]}",
        )


def make_client(http: httpx.AsyncClient, settings: Settings) -> CourtClient:
    return CourtClient(
        http,
        settings.court_url or "",
        settings.court_app_key,
        settings.court_app_secret,
        settings.adapter_timeout_s,
    )
