"""Loopback simulator of the Alibaba Cloud SMS API: same wire format, same rejections.

It checks the signature, the registered sign name, the template code and each parameter's length
limit, like the real provider, so a template the provider would reject fails in tests.

Provider API (as documented by Alibaba Cloud, POST / with the RPC signature):
- ``Action=SendSms``: accepts or rejects a message.
- ``Action=QuerySendDetails``: one phone's records of one day (PhoneNumber, SendDate yyyyMMdd in
  China time, PageSize 1–50, CurrentPage, optional BizId), each with its OutId.
- Delivery receipts (SmsReport) and inbound messages (SmsUp) are pushed as JSON lists to the
  configured callback URLs, in the field names of Alibaba Cloud's HTTP push.

Simulator controls (``/_sim/…``, not part of the provider's API):
- ``GET /_sim/received`` lists what it accepted; ``DELETE`` clears it.
- ``POST /_sim/fail?count=N`` makes the next N SendSms calls fail with HTTP 503 (outage).
- ``POST /_sim/config`` ``{receipt_url, inbound_url, query_send_details: "normal" | "empty"}``;
  ``empty`` makes QuerySendDetails find nothing (a record not yet visible at the provider).
- ``POST /_sim/deliver-receipts?success=true&err_code=…&all=false`` pushes an SmsReport for every
  accepted message not reported yet (all: again for every message) to ``receipt_url``.
- ``POST /_sim/inbound`` ``{phone, content}`` pushes an SmsUp message to ``inbound_url``.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.notification.domain.signing import aliyun_signature
from services.notification.domain.templates import TemplateCatalog, load_default_catalog

_CHINA = ZoneInfo("Asia/Shanghai")
_LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"


class SimConfig(BaseModel):
    receipt_url: str | None = None
    inbound_url: str | None = None
    query_send_details: str | None = None  # normal | empty


class InboundIn(BaseModel):
    phone: str
    content: str
    dest_code: str = "1069000"


def create_app(
    access_key_secret: str,
    sign_names: set[str],
    catalog: TemplateCatalog | None = None,
    *,
    receipt_url: str | None = None,
    inbound_url: str | None = None,
) -> FastAPI:
    catalog = catalog or load_default_catalog()
    by_code = {t.provider_code: t for t in catalog}
    app = FastAPI(title="SMS provider simulator (Aliyun Dysms)")
    received: list[dict[str, Any]] = []
    state: dict[str, Any] = {
        "fail_next": 0,
        "receipt_url": receipt_url,
        "inbound_url": inbound_url,
        "query_send_details": "normal",
        "sequence": 0,
    }

    def reply(code: str, message: str, **extra: Any) -> JSONResponse:
        return JSONResponse({"Code": code, "Message": message, "RequestId": str(uuid.uuid4()), **extra})

    @app.post("/")
    async def api(request: Request) -> JSONResponse:
        params = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        signature = params.pop("Signature", "")
        if signature != aliyun_signature(access_key_secret, "POST", params):
            return reply("SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        action = params.get("Action")
        if action == "SendSms":
            return send(params)
        if action == "QuerySendDetails":
            return query_send_details(params)
        return reply("InvalidAction.NotFound", "Specified api is not found")

    def send(params: dict[str, str]) -> JSONResponse:
        if state["fail_next"] > 0:
            state["fail_next"] -= 1
            return JSONResponse({"Code": "isp.SYSTEM_ERROR", "Message": "simulated outage"}, status_code=503)
        if params.get("SignName") not in sign_names:
            return reply("isv.SMS_SIGNATURE_ILLEGAL", "签名不合法")
        template = by_code.get(params.get("TemplateCode", ""))
        if template is None:
            return reply("isv.SMS_TEMPLATE_ILLEGAL", "模板不合法")
        try:
            values = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return reply("isv.INVALID_JSON_PARAM", "JSON参数不合法")
        limits = {p.name: p.max_length for p in template.params}
        if set(values) != set(limits) or any(len(str(values[k])) > limits[k] for k in limits):
            return reply("isv.PARAM_LENGTH_LIMIT", "参数超出长度限制或不匹配")
        phone = params.get("PhoneNumbers", "")
        if not (phone.isdigit() or (phone.startswith("+") and phone[1:].isdigit())):
            return reply("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        biz_id = f"{uuid.uuid4().int % 10**18:018d}^0"
        now = datetime.now(UTC)
        received.append(
            {
                "biz_id": biz_id,
                "out_id": params.get("OutId"),
                "phone": phone,
                "sign_name": params["SignName"],
                "template_code": template.provider_code,
                "params": values,
                "text": f"【{params['SignName']}】"
                + catalog.render(template.id, values, params["SignName"]).text.split("】", 1)[1],
                "received_at": now.isoformat(),
                "send_date": now.astimezone(_CHINA).strftime(_LOCAL_FORMAT),
                "send_status": 1,  # 1 waiting for receipt, 2 failed, 3 delivered
                "err_code": "",
                "receive_date": None,
                "reported": False,
            }
        )
        return reply("OK", "OK", BizId=biz_id)

    def query_send_details(params: dict[str, str]) -> JSONResponse:
        phone, send_date = params.get("PhoneNumber", ""), params.get("SendDate", "")
        try:
            page_size, page = int(params.get("PageSize", "")), int(params.get("CurrentPage", "1"))
        except ValueError:
            return reply("isv.INVALID_PARAMETERS", "参数格式错误")
        if not phone or len(send_date) != 8 or not 1 <= page_size <= 50 or page < 1:
            return reply("isv.INVALID_PARAMETERS", "参数格式错误")
        day = f"{send_date[:4]}-{send_date[4:6]}-{send_date[6:]}"
        matches = [
            m
            for m in received
            if m["phone"] == phone
            and m["send_date"].startswith(day)
            and (not params.get("BizId") or m["biz_id"] == params["BizId"])
        ]
        if state["query_send_details"] == "empty":
            matches = []
        chunk = matches[(page - 1) * page_size : page * page_size]
        dtos = [
            {
                "PhoneNum": m["phone"],
                "SendStatus": m["send_status"],
                "ErrCode": m["err_code"] or ("DELIVERED" if m["send_status"] == 3 else ""),
                "TemplateCode": m["template_code"],
                "Content": m["text"],
                "SendDate": m["send_date"],
                "ReceiveDate": m["receive_date"] or "",
                "OutId": m["out_id"] or "",
            }
            for m in chunk
        ]
        return reply("OK", "OK", TotalCount=len(matches), SmsSendDetailDTOs={"SmsSendDetailDTO": dtos})

    @app.get("/_sim/received")
    async def list_received() -> dict[str, Any]:
        return {"count": len(received), "items": received}

    @app.get("/_sim/received/count")
    async def count_received() -> dict[str, int]:
        return {"count": len(received)}

    @app.post("/_sim/fail")
    async def fail_next(count: int = 1) -> dict[str, int]:
        state["fail_next"] = count
        return {"fail_next": count}

    @app.delete("/_sim/received")
    async def clear() -> dict[str, int]:
        received.clear()
        return {"count": 0}

    @app.post("/_sim/config")
    async def configure(config: SimConfig) -> dict[str, Any]:
        for key, value in config.model_dump(exclude_unset=True).items():
            state[key] = value
        return {k: state[k] for k in ("receipt_url", "inbound_url", "query_send_details")}

    @app.post("/_sim/deliver-receipts", response_model=None)
    async def deliver_receipts(
        success: bool = True, err_code: str | None = None, all: bool = False
    ) -> JSONResponse | dict[str, Any]:
        url = state["receipt_url"]
        if not url:
            return JSONResponse({"error": "no receipt_url configured"}, status_code=409)
        batch = [m for m in received if all or not m["reported"]]
        now = datetime.now(UTC).astimezone(_CHINA).strftime(_LOCAL_FORMAT)
        reports = []
        for m in batch:
            code = "DELIVERED" if success else (err_code or "MK:0001")
            reports.append(
                {
                    "phone_number": m["phone"],
                    "send_time": m["send_date"],
                    "report_time": now,
                    "success": success,
                    "err_code": code,
                    "err_msg": "用户接收成功" if success else "用户接收失败",
                    "sms_size": "1",
                    "biz_id": m["biz_id"],
                    "out_id": m["out_id"] or "",
                }
            )
        if not reports:
            return {"pushed": 0, "status": None}
        async with httpx.AsyncClient() as client:
            response = await client.post(url, json=reports, timeout=10)
        if response.status_code == 200:
            for m in batch:
                m["reported"] = True
                m["send_status"] = 3 if success else 2
                m["err_code"] = reports[0]["err_code"]
                m["receive_date"] = now
        return {"pushed": len(reports), "status": response.status_code, "answer": _json(response)}

    @app.post("/_sim/inbound", response_model=None)
    async def inbound(message: InboundIn) -> JSONResponse | dict[str, Any]:
        url = state["inbound_url"]
        if not url:
            return JSONResponse({"error": "no inbound_url configured"}, status_code=409)
        state["sequence"] += 1
        body = [
            {
                "phone_number": message.phone,
                "send_time": datetime.now(UTC).astimezone(_CHINA).strftime(_LOCAL_FORMAT),
                "content": message.content,
                "sign_name": next(iter(sorted(sign_names)), ""),
                "dest_code": message.dest_code,
                "sequence_id": state["sequence"],
            }
        ]
        async with httpx.AsyncClient() as client:
            response = await client.post(url, json=body, timeout=10)
        return {"status": response.status_code, "answer": _json(response)}

    return app


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:200]
