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
from hub.config import Settings

RESULT_PATH = "/api/12309/v1/clue/result"
RETRYABLE_CODES = {"E9999", "E1001", "E1002"}  # 系统繁忙; 签名 (keys rotating); 时间戳 (clock skew)


def sign(params: dict[str, Any], secret: str) -> str:
    return sha256_hex(f"{sorted_params(params)}&secret={secret}").upper()


class ProcuratorateClient:
    system = mapping.SYSTEM

    def __init__(
        self, http: httpx.AsyncClient, base_url: str, app_key: str, secret: str, timeout: float
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.app_key = app_key
        self.secret = secret
        self.timeout = timeout

    async def deliver(self, delivery: Delivery) -> Outcome:
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
        body = {**params, "content": content}
        try:
            response = await self.http.post(
                self.base_url + RESULT_PATH,
                content=compact_json(body).encode(),
                headers={"Content-Type": "application/json;charset=UTF-8"},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            return Outcome(ok=False, retryable=True, detail=f"12309 unreachable: {type(exc).__name__}")
        if response.status_code != 200:
            retryable = response.status_code >= 500 or response.status_code in (408, 429)
            return Outcome(ok=False, retryable=retryable, detail=f"12309 HTTP {response.status_code}")
        try:
            doc = response.json()
            code = str(doc["errCode"])
        except (ValueError, KeyError, TypeError):
            return Outcome(
                ok=False, retryable=True, detail="12309 answered something that is not its envelope"
            )
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


def make_client(http: httpx.AsyncClient, settings: Settings) -> ProcuratorateClient:
    return ProcuratorateClient(
        http,
        settings.procuratorate12309_url or "",
        settings.procuratorate12309_app_key,
        settings.procuratorate12309_app_secret,
        settings.adapter_timeout_s,
    )
