"""The 12309 platform's handling-result API, spoken its way (docs/adapters/procuratorate12309.md).

Requests: JSON `{appKey, timestamp (unix seconds), serialNo, content (object), sign}`, `sign` =
uppercase hex SHA-256 of the other parameters sorted `k=v&…` (content as compact JSON text) followed
by `&secret=<secret>`. `serialNo` is our update id; a repeated one is answered with success and
`data.repeated = true`. Answers: `{success, errCode, errMsg, data}`.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from gateway.adapters.common import Delivery, Outcome, compact_json, sha256_hex, sorted_params
from gateway.adapters.procuratorate12309 import mapping
from gateway.adapters.system_client import EnvelopeClient
from gateway.settings import GatewaySettings

RESULT_PATH = "/api/12309/v1/clue/result"
RETRYABLE_CODES = {"E9999", "E1001", "E1002"}  # 系统繁忙; 签名 (keys rotating); 时间戳 (clock skew)


def sign(params: dict[str, Any], secret: str) -> str:
    return sha256_hex(f"{sorted_params(params)}&secret={secret}").upper()


class ProcuratorateClient(EnvelopeClient):
    system = mapping.SYSTEM
    label = "12309"
    path = RESULT_PATH
    compact_body = True

    def envelope(self, delivery: Delivery) -> dict[str, Any]:
        content = mapping.result(
            delivery.update, delivery.case_no, delivery.external_ref or "", delivery.data
        )
        params: dict[str, Any] = {
            "appKey": self.app_key,
            "timestamp": str(int(time.time())),
            "serialNo": delivery.update_id,
            "content": compact_json(content),
        }
        params["sign"] = sign(params, self.secret)
        return {**params, "content": content}

    def code_of(self, doc: Any) -> str:
        return str(doc["errCode"])

    def outcome(self, doc: dict[str, Any], code: str) -> Outcome:
        data = doc.get("data") or {}
        if doc.get("success") is True:
            status = data.get("handleStatus")
            return Outcome(
                ok=True,
                external_state=None if status is None else str(status),
                duplicate=bool(data.get("repeated")),
            )
        return Outcome(
            ok=False,
            retryable=code in RETRYABLE_CODES,
            detail=f"12309 {code}: {str(doc.get('errMsg') or '')[:120]}",
        )


def make_client(http: httpx.AsyncClient, settings: GatewaySettings) -> ProcuratorateClient:
    return ProcuratorateClient.from_settings(http, settings)
