"""Loopback simulator of a court's mediation platform (诉调对接平台, docs/adapters/court.md).

It checks clientId, the HMAC-SM3 `sign` over the sorted parameters and the `yyyyMMddHHmmssSSS`
request time (5 minutes), answers `{ret, msg, content}`, applies each `reqId` once, keeps its cases
(案号) and their mediation states, files a new case (and answers its new 案号) when the hub guides a
dispute to litigation, and pushes delegated mediation requests to the hub, signed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.adapters.common import CST, LOCAL, hmac_hex, local_time, same, sorted_params
from gateway.adapters.simkit import (
    NAMES,
    SimState,
    credentials,
    hub_url_of,
    install_controls,
    install_push,
    mobile,
    run_simulator,
)
from gateway.settings import GatewaySettings

SYSTEM = "court"

TJZT = {
    "0": "待受理",
    "1": "已受理",
    "2": "调解中",
    "3": "调解成功（待司法确认）",
    "4": "调解不成（转立案）",
    "5": "已结案",
}
JGLX = {"1": "1", "2": "3", "3": "4", "4": "5", "6": "4", "7": "2", "9": "2"}  # jglx → tjzt it leads to
JGLX_NAMES = {
    "1": "受理委派",
    "2": "调解成功，申请司法确认",
    "3": "调解不成，退回立案",
    "4": "结案",
    "6": "诉讼引导（移送立案）",
    "7": "重新调解",
    "9": "其他",
}
PROGRESS = {"0": 0, "1": 1, "2": 2, "3": 3, "4": 3, "5": 4}

CASES = [
    ("买卖合同纠纷", "请求判令被申请人支付货款及逾期付款利息", "86500.00"),
    ("商品房预售合同纠纷", "请求判令被申请人支付剩余房款及违约金", "320000.00"),
    ("物业服务合同纠纷", "请求判令被申请人支付拖欠的物业服务费", "4860.00"),
    ("民间借贷纠纷", "请求判令被申请人归还借款本金及利息", "50000.00"),
]


def answer(ret: int, msg: str, content: Any = None) -> JSONResponse:
    return JSONResponse({"ret": ret, "msg": msg, "content": content})


def _busy() -> JSONResponse:
    return answer(500, "系统繁忙")


def resident_id(serial: int, born: str = "19850312") -> str:
    """A resident ID number with a valid GB 11643 check digit (fictitious: area 150203)."""
    body = f"150203{born}{serial % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


def mediation_request(state: SimState, **overrides: Any) -> dict[str, Any]:
    serial = state.next_serial()
    cause, claims, amount = CASES[serial % len(CASES)]
    delegated = datetime.now(UTC) - timedelta(hours=state.rng.randrange(1, 48))
    year = delegated.astimezone(CST).year
    record: dict[str, Any] = {
        "ah": f"({year})内0203民诉前调{1000 + serial}号",
        "ay": cause,
        "sqr": [
            {
                "xm": NAMES[serial % len(NAMES)],
                "lxdh": mobile(state.rng),
                "sfzhm": resident_id(serial),
                "dz": "昆都仑区阿尔丁大街某小区3栋",
            }
        ],
        "bsqr": [{"xm": "包头市某房地产开发有限公司"}],
        "ssqq": claims,
        "bdje": amount,
        "wtsj": local_time(delegated),
        "tjqx": (delegated + timedelta(days=30)).astimezone(CST).strftime("%Y-%m-%d"),
        "fydm": "150203",
        "fymc": "包头市昆都仑区人民法院",
        "jddm": "150203001000",
    }
    record.update(overrides)
    return record


def create_app(
    client_id: str, secret: str, webhook_secret: str, hub_url: str | None = None, *, tolerance_s: int = 300
) -> FastAPI:
    app = FastAPI(title="诉调对接平台 (simulator)")
    state = SimState(SYSTEM, webhook_secret, hub_url)
    install_controls(app, state, _busy)

    @app.post("/tjpt/api/v1/tjjg", tags=["court mediation API"])
    async def mediation_result(request: Request) -> JSONResponse:
        try:
            params = await request.json()
            biz = json.loads(params["bizData"])
        except (ValueError, KeyError, TypeError):
            return answer(2, "参数错误")
        if params.get("clientId") != client_id:
            state.rejected += 1
            return answer(1, "clientId无效")
        if not same(str(params.get("sign", "")), hmac_hex(secret, sorted_params(params), "sm3")):
            state.rejected += 1
            return answer(1, "签名错误")
        try:
            text = str(params["reqTime"])
            sent_at = datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=CST)
        except (KeyError, ValueError):
            return answer(2, "reqTime格式错误")
        if abs((datetime.now(UTC) - sent_at).total_seconds()) > tolerance_s:
            state.rejected += 1
            return answer(4, "请求已过期")
        if state.take_failure():
            return _busy()
        req_id = str(params.get("reqId") or "")
        if not req_id:
            return answer(2, "缺少reqId")
        earlier = state.earlier_answer(req_id)
        if earlier is not None:
            return answer(0, "重复请求", {**earlier, "repeat": True})
        jglx = str(biz.get("jglx"))
        try:
            datetime.strptime(str(biz["fksj"]), LOCAL)
        except (KeyError, ValueError):
            return answer(2, "fksj格式错误")
        if jglx not in JGLX or str(biz.get("tjzt")) != JGLX[jglx]:
            return answer(2, "jglx或tjzt不正确")
        ah = biz.get("ah")
        if not ah:
            if jglx != "6":
                return answer(2, "缺少案号")
            year = datetime.now(CST).year
            ah = f"({year})内0203民初{2000 + state.next_serial()}号"  # a new filing (立案)
            state.records[ah] = {
                "ah": ah,
                "ay": biz.get("jflb"),
                "tjzt": "0",
                "zzbh": biz.get("zzbh"),
                "_progress": (0, 0),
            }
        record = state.records.get(ah)
        if record is None:
            return answer(3, "案件不存在")
        tjzt = JGLX[jglx]
        round_ = record.get("_round", 0) + (1 if jglx == "7" else 0)
        entry = {
            "request_id": req_id,
            "ref": ah,
            "jglx": jglx,
            "action": JGLX_NAMES[jglx],
            "tjzt": tjzt,
            "zzbh": biz.get("zzbh"),
            "has_agreement": bool(biz.get("tjxy")),
        }
        state.advance(ah, (round_, PROGRESS[tjzt]), entry)
        record.update(tjzt=tjzt, tjztmc=TJZT[tjzt], _round=round_, zzbh=biz.get("zzbh") or record.get("zzbh"))
        content = state.applied(req_id, entry, {"ah": ah, "tjzt": tjzt})
        return answer(0, "ok", content)

    install_push(
        app,
        state,
        "mediation-request",
        f"/adapters/{SYSTEM}/mediation-requests",
        mediation_request,
        "ah",
        lambda _: {"tjzt": "0"},
    )

    return app


def from_settings(settings: GatewaySettings) -> FastAPI:
    return create_app(*credentials(SYSTEM, settings), hub_url_of(settings))


if __name__ == "__main__":  # pragma: no cover - `hub up --simulators`
    run_simulator(SYSTEM, from_settings)
