"""Alibaba Cloud SMS (Dysms SendSms, QuerySendDetails) over its documented RPC signature scheme, via httpx.

The signed parameters travel in the POST body, not the URL, so phone numbers never reach span
attributes or access logs that record URLs.

SendSms has no idempotency key (OutId is only echoed back), so a send whose answer we lost may
already be at the provider. `lookup` asks QuerySendDetails for the phone's records of the day and
matches our OutId (each record carries it): see docs/providers.md for what that guarantees.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from services.notification.domain.signing import (
    aliyun_query_send_details_params,
    aliyun_send_sms_params,
    aliyun_signed_query,
)
from services.notification.sms.port import (
    SmsAccepted,
    SmsOutcomeUnknown,
    SmsRejected,
    SmsRequest,
    SmsUnavailable,
)

_TRANSIENT_CODES = {"isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "Throttling.User", "ServiceUnavailable"}
_CHINA = ZoneInfo("Asia/Shanghai")  # SendDate is the provider's (China) calendar date
_PAGE_SIZE = 50
_MAX_PAGES = 20


class AliyunSms:
    name = "aliyun"

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        access_key_id: str,
        access_key_secret: str,
        *,
        name: str = "aliyun",
        timeout_s: float = 10.0,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/") + "/"
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.name = name
        self.timeout_s = timeout_s

    async def send(self, request: SmsRequest) -> SmsAccepted:
        params = aliyun_send_sms_params(
            access_key_id=self.access_key_id,
            phone_numbers=_national(request.phone),
            sign_name=request.sign_name,
            template_code=request.template_code,
            template_param_json=json.dumps(request.params, ensure_ascii=False, separators=(",", ":")),
            timestamp=datetime.now(UTC),
            nonce=str(uuid.uuid4()),
            out_id=request.out_id,
        )
        doc = await self._call(params)
        code = doc.get("Code")
        if code == "OK":
            return SmsAccepted(self.name, str(doc.get("BizId", "")))
        if code in _TRANSIENT_CODES:
            raise SmsUnavailable(f"{self.name} {code}")
        raise SmsRejected(f"{self.name} {code}: {doc.get('Message', '')}"[:200])

    async def lookup(self, request: SmsRequest, since: datetime) -> SmsAccepted | None:
        """The provider's record of `request` (matched by OutId) sent on or after `since`'s date."""
        now = datetime.now(UTC)
        day = min(since, now).astimezone(_CHINA).date()
        last = now.astimezone(_CHINA).date()
        while day <= last:
            found = await self._find_on(request, day.strftime("%Y%m%d"))
            if found is not None:
                return found
            day += timedelta(days=1)
        return None

    async def _find_on(self, request: SmsRequest, send_date: str) -> SmsAccepted | None:
        for page in range(1, _MAX_PAGES + 1):
            params = aliyun_query_send_details_params(
                access_key_id=self.access_key_id,
                phone_number=_national(request.phone),
                send_date=send_date,
                page_size=_PAGE_SIZE,
                current_page=page,
                timestamp=datetime.now(UTC),
                nonce=str(uuid.uuid4()),
            )
            doc = await self._call(params)
            if doc.get("Code") != "OK":
                raise SmsUnavailable(f"{self.name} QuerySendDetails {doc.get('Code')}")
            records = _records(doc)
            for record in records:
                if str(record.get("OutId") or "") == request.out_id:
                    # The records carry no BizId; the receipt (out_id) still finds the delivery.
                    return SmsAccepted(self.name, str(record.get("BizId") or f"out:{request.out_id}"))
            total = int(doc.get("TotalCount") or 0)
            if not records or page * _PAGE_SIZE >= total:
                return None
        return None

    async def _call(self, params: dict[str, str]) -> dict[str, Any]:
        body = aliyun_signed_query(self.access_key_secret, "POST", params)
        try:
            response = await self.client.post(
                self.base_url,
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=self.timeout_s,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Never reached the provider: nothing was sent.
            raise SmsUnavailable(f"{self.name} unreachable: {type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            # Sent, but no answer: the provider may have the message.
            raise SmsOutcomeUnknown(f"{self.name} no answer: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise SmsUnavailable(f"{self.name} HTTP {response.status_code}")
        try:
            doc = response.json()
        except ValueError:
            raise SmsUnavailable(f"{self.name} answered with a non-JSON body") from None
        if not isinstance(doc, dict):
            raise SmsUnavailable(f"{self.name} answered with an unexpected body")
        return doc


def _records(doc: dict[str, Any]) -> list[dict[str, Any]]:
    holder = doc.get("SmsSendDetailDTOs") or {}
    records = holder.get("SmsSendDetailDTO") if isinstance(holder, dict) else None
    return [r for r in records or [] if isinstance(r, dict)]


def _national(phone: str) -> str:
    """Aliyun takes mainland numbers without the country code."""
    return phone[3:] if phone.startswith("+86") else phone
