"""Police 110 linkage feedback API (警情反馈), spoken its way (docs/adapters/police110.md).

Requests: JSON `{appid, ts (yyyyMMddHHmmss, Beijing), nonce, data (object), signature}`,
`signature` = base64 HMAC-SHA256(secret, `appid=…&data=<compact JSON>&nonce=…&ts=…`). The nonce is our
update id: the platform refuses to apply a nonce twice and answers it with `0000` again. Answers:
`{code: "0000", msg, result}`; errors are four-digit strings.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx

from gateway.adapters.common import Delivery, Outcome, compact_json, local_compact, sorted_params
from gateway.adapters.police110 import mapping
from gateway.adapters.system_client import EnvelopeClient
from gateway.settings import GatewaySettings

FEEDBACK_PATH = "/api/jqld/v1/fk"
RETRYABLE_CODES = {"9999", "1001", "1004"}  # 系统异常; 签名 (keys rotating); 时间戳 (clock skew)


def signature(params: dict[str, Any], secret: str) -> str:
    text = sorted_params(params, skip=("signature",))
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()).decode()


class PoliceClient(EnvelopeClient):
    system = mapping.SYSTEM
    label = "police110"
    path = FEEDBACK_PATH
    compact_body = True

    def envelope(self, delivery: Delivery) -> dict[str, Any]:
        data = mapping.feedback(delivery.update, delivery.case_no, delivery.external_ref or "", delivery.data)
        params: dict[str, Any] = {
            "appid": self.app_key,
            "ts": local_compact(),
            "nonce": delivery.update_id.replace("-", ""),
            "data": compact_json(data),
        }
        params["signature"] = signature(params, self.secret)
        return {**params, "data": data}  # sent as an object, signed as its compact JSON text

    def code_of(self, doc: Any) -> str:
        return str(doc["code"])

    def outcome(self, doc: dict[str, Any], code: str) -> Outcome:
        result = doc.get("result") or {}
        if code == "0000":
            return Outcome(
                ok=True,
                external_state=str(result.get("clzt")) if result.get("clzt") is not None else None,
                duplicate=bool(result.get("cf")),
            )
        return Outcome(
            ok=False,
            retryable=code in RETRYABLE_CODES,
            detail=f"police110 code {code}: {str(doc.get('msg') or '')[:120]}",
        )


def make_client(http: httpx.AsyncClient, settings: GatewaySettings) -> PoliceClient:
    return PoliceClient.from_settings(http, settings)
