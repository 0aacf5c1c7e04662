"""Loopback simulator of the police 110 linkage platform (警情联动, docs/adapters/police110.md).

It checks appid, the base64 HMAC-SHA256 `signature` over the sorted parameters and the
`yyyyMMddHHmmss` timestamp (5 minutes), answers `{code, msg, result}` with four-digit codes, applies
each nonce once, keeps its incidents and their linkage states, and pushes dispute incidents to the
hub, signed. Test controls: gateway/adapters/simkit.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.adapters.common import CST, LOCAL, local_time, same, sorted_params
from gateway.adapters.simkit import (
    NAMES,
    SAMPLES,
    SimState,
    credentials,
    hub_url_of,
    install_controls,
    install_push,
    mobile,
    run_simulator,
)
from gateway.settings import GatewaySettings

SYSTEM = "police110"

CLZT = {"0": "待签收", "1": "已签收", "2": "调处中", "3": "已调结", "4": "已办结"}
FKLX = {"01": ("签收", "1"), "02": ("调解结果", "3"), "03": ("办结", "4"), "04": ("重新调处", "2")}
TJJG = {"1": "调解成功", "2": "调解不成功", "3": "部分达成", "4": "引导诉讼", "9": "其他"}
PROGRESS = {"0": 0, "1": 1, "2": 2, "3": 3, "4": 4}


def answer(code: str, msg: str, result: Any = None) -> JSONResponse:
    return JSONResponse({"code": code, "msg": msg, "result": result})


def _busy() -> JSONResponse:
    return answer("9999", "系统异常，请稍后再试")


def incident(state: SimState, **overrides: Any) -> dict[str, Any]:
    rng = state.rng
    serial = state.next_serial()
    title, content, address = SAMPLES[serial % len(SAMPLES)]
    reported = datetime.now(UTC) - timedelta(minutes=rng.randrange(5, 240))
    record: dict[str, Any] = {
        "jjdbh": f"J150203000000{reported.astimezone(CST):%Y%m%d}{serial:06d}",
        "bjsj": local_time(reported),
        "bjrxm": NAMES[serial % len(NAMES)],
        "bjrdh": mobile(rng),
        "sfdz": address,
        "xzqh": "150203",
        "sqdm": "150203001000",
        "jqlbdm": "0606" if "噪" in title else "0601",
        "jyaq": f"{title}。{content}",
        "cjdw": "包头市公安局昆都仑区分局阿尔丁派出所",
        "cjdwdm": "150203510000",
        "sars": 2,
        "sfbl": "0",
        "sfqt": "0",
        "sfmzx": "0",
        "sfrt": "0",
    }
    record.update(overrides)
    return record


def create_app(
    app_id: str, secret: str, webhook_secret: str, hub_url: str | None = None, *, tolerance_s: int = 300
) -> FastAPI:
    app = FastAPI(title="110警情联动平台 (simulator)")
    state = SimState(SYSTEM, webhook_secret, hub_url)
    install_controls(app, state, _busy)

    @app.post("/api/jqld/v1/fk", tags=["110 linkage API"])
    async def feedback(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
            data = body["data"]
            params = {k: body.get(k) for k in ("appid", "ts", "nonce")}
            params["data"] = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        except (ValueError, KeyError, TypeError):
            return answer("1002", "参数缺失或格式错误")
        if params["appid"] != app_id:
            state.rejected += 1
            return answer("1003", "appid无效")
        expected = base64.b64encode(
            hmac.new(
                secret.encode(), sorted_params(params, skip=("signature",)).encode(), hashlib.sha256
            ).digest()
        ).decode()
        if not same(str(body.get("signature", "")), expected):
            state.rejected += 1
            return answer("1001", "签名校验失败")
        try:
            sent_at = datetime.strptime(str(params["ts"]), "%Y%m%d%H%M%S").replace(tzinfo=CST)
        except ValueError:
            return answer("1004", "时间戳格式错误")
        if abs((datetime.now(UTC) - sent_at).total_seconds()) > tolerance_s:
            state.rejected += 1
            return answer("1004", "时间戳超出有效期")
        if state.take_failure():
            return _busy()
        nonce = str(params["nonce"])
        earlier = state.earlier_answer(nonce)
        if earlier is not None:
            return answer("0000", "重复推送，已忽略", {**earlier, "cf": True})
        try:
            incident_no = str(data["jjdbh"])
            fklx = str(data["fklx"])
            datetime.strptime(str(data["fksj"]), LOCAL)
        except (KeyError, TypeError, ValueError):
            return answer("1002", "参数缺失或格式错误")
        if fklx not in FKLX or str(data.get("clzt")) != FKLX[fklx][1]:
            return answer("1002", "fklx或clzt不正确")
        if fklx == "02" and str(data.get("tjjg")) not in TJJG:
            return answer("1002", "tjjg不正确")
        record = state.records.get(incident_no)
        if record is None:
            return answer("1005", "警情不存在")
        clzt = FKLX[fklx][1]
        round_ = record.get("_round", 0) + (1 if fklx == "04" else 0)
        entry = {
            "request_id": nonce,
            "ref": incident_no,
            "fklx": fklx,
            "action": FKLX[fklx][0],
            "clzt": clzt,
            "tjjg": data.get("tjjg"),
            "zzbh": data.get("zzbh"),
        }
        state.advance(incident_no, (round_, PROGRESS[clzt]), entry)
        record.update(
            clzt=clzt, clztmc=CLZT[clzt], _round=round_, zzbh=data.get("zzbh") or record.get("zzbh")
        )
        result = state.applied(nonce, entry, {"jjdbh": incident_no, "clzt": clzt})
        return answer("0000", "成功", result)

    install_push(
        app, state, "incident", f"/adapters/{SYSTEM}/incidents", incident, "jjdbh", lambda _: {"clzt": "0"}
    )

    return app


def from_settings(settings: GatewaySettings) -> FastAPI:
    return create_app(*credentials(SYSTEM, settings), hub_url_of(settings))


if __name__ == "__main__":  # pragma: no cover - `hub up --simulators`
    run_simulator(SYSTEM, from_settings)
