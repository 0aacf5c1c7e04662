"""The 12345 platform's open API, spoken its way (docs/adapters/hotline12345.md).

Requests: JSON `{appKey, method, version, timestamp (ms), requestId, bizContent (JSON text), sign}`,
`sign` = uppercase hex HMAC-SHA256(appSecret, the other parameters sorted `k=v&…`). Answers:
`{success, code, message, data}`; `requestId` is our update id, and the platform answers a request
id it has applied with success again (code 200, `data.duplicate: true`) without applying it twice.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from gateway.adapters.common import Delivery, Outcome, compact_json, hmac_hex, sorted_params
from gateway.adapters.hotline12345 import mapping
from gateway.adapters.system_client import EnvelopeClient
from gateway.settings import GatewaySettings

FEEDBACK_PATH = "/openapi/v2/workorder/feedback"
LIST_PATH = "/openapi/v2/workorder/list"

# Their error codes worth another try (busy, rate limited, clock skew, signature while keys rotate).
RETRYABLE_CODES = {50000, 42900, 40002, 40001}


def sign(params: dict[str, Any], secret: str) -> str:
    return hmac_hex(secret, sorted_params(params)).upper()


class HotlineClient(EnvelopeClient):
    system = mapping.SYSTEM
    label = "12345"
    path = FEEDBACK_PATH

    def _signed(self, method: str, biz: dict[str, Any], request_id: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "appKey": self.app_key,
            "method": method,
            "version": "2.0",
            "timestamp": str(int(time.time() * 1000)),
            "requestId": request_id,
            "bizContent": compact_json(biz),
        }
        params["sign"] = sign(params, self.secret)
        return params

    def envelope(self, delivery: Delivery) -> dict[str, Any]:
        biz = mapping.feedback(delivery.update, delivery.case_no, delivery.external_ref or "", delivery.data)
        return self._signed("workorder.feedback", biz, delivery.update_id)

    def code_of(self, doc: Any) -> int:
        return int(doc.get("code", 0))

    def outcome(self, doc: dict[str, Any], code: int) -> Outcome:
        data = doc.get("data") or {}
        if doc.get("success") is True and code == 200:
            status = data.get("status")
            return Outcome(
                ok=True,
                external_state=None if status is None else str(status),
                duplicate=bool(data.get("duplicate")),
            )
        message = str(doc.get("message") or "")[:120]
        return Outcome(ok=False, retryable=code in RETRYABLE_CODES, detail=f"12345 code {code}: {message}")

    async def list_work_orders(
        self, page_no: int, page_size: int = 100, updated_since: str | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """One page of the platform's work orders (their style records), oldest first."""
        params: dict[str, Any] = {
            "appKey": self.app_key,
            "timestamp": str(int(time.time() * 1000)),
            "pageNo": page_no,
            "pageSize": page_size,
        }
        if updated_since:
            params["updatedSince"] = updated_since
        params["sign"] = sign(params, self.secret)
        response = await self.http.get(self.base_url + LIST_PATH, params=params, timeout=self.timeout)
        response.raise_for_status()
        doc = response.json()
        if not doc.get("success"):
            raise RuntimeError(f"12345 list refused: code {doc.get('code')} {doc.get('message')}")
        data = doc.get("data") or {}
        return int(data.get("total", 0)), list(data.get("records") or [])


def make_client(http: httpx.AsyncClient, settings: GatewaySettings) -> HotlineClient:
    return HotlineClient.from_settings(http, settings)
