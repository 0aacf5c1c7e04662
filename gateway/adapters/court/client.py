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
from gateway.adapters.system_client import EnvelopeClient
from gateway.settings import GatewaySettings

RESULT_PATH = "/tjpt/api/v1/tjjg"
RETRYABLE_RETS = {500, 503, 1, 4}  # 系统繁忙; 签名 (keys rotating); 请求过期 (clock skew)


def sign(params: dict[str, Any], secret: str) -> str:
    return hmac_hex(secret, sorted_params(params), "sm3")


class CourtClient(EnvelopeClient):
    system = mapping.SYSTEM
    label = "court"
    path = RESULT_PATH

    def envelope(self, delivery: Delivery) -> dict[str, Any]:
        biz = mapping.result(delivery.update, delivery.case_no, delivery.external_ref, delivery.data)
        params: dict[str, Any] = {
            "clientId": self.app_key,
            "reqTime": local_compact(millis=True),
            "reqId": delivery.update_id,
            "bizData": compact_json(biz),
        }
        params["sign"] = sign(params, self.secret)
        return params

    def code_of(self, doc: Any) -> int:
        return int(doc["ret"])

    def outcome(self, doc: dict[str, Any], code: int) -> Outcome:
        content = doc.get("content") or {}
        if code == 0:
            return Outcome(
                ok=True,
                external_ref=content.get("ah"),
                external_state=str(content["tjzt"]) if content.get("tjzt") is not None else None,
                duplicate=bool(content.get("repeat")),
            )
        return Outcome(
            ok=False,
            retryable=code in RETRYABLE_RETS,
            detail=f"court ret {code}: {str(doc.get('msg') or '')[:120]}",
        )


def make_client(http: httpx.AsyncClient, settings: GatewaySettings) -> CourtClient:
    return CourtClient.from_settings(http, settings)
