"""Loopback simulator of the procuratorate 12309 platform (docs/adapters/procuratorate12309.md).

It checks appKey, the uppercase SHA-256 `sign` (sorted parameters + `&secret=`) and the unix-seconds
timestamp (5 minutes), answers `{success, errCode, errMsg, data}`, applies each `serialNo` once,
keeps its clues and their handling states, and pushes complaints and public-interest clues to the
hub, signed. Test controls: gateway/adapters/simkit.py.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.adapters.common import CST, LOCAL, local_time, same, sorted_params
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

SYSTEM = "procuratorate12309"

STATUS = {0: "待受理", 1: "已受理", 2: "办理中", 3: "已答复", 4: "已办结"}
CLUES = [
    (
        4,
        "河道旁企业偷排污水",
        "某化工企业夜间向河道偷排污水，河水发黑发臭，周边居民反映强烈。",
        "生态环境和资源保护",
    ),
    (1, "控告某物业公司强行断水", "物业公司以欠费为由强行停水，影响老人生活。", None),
    (3, "举报某食品店销售过期食品", "小区门口食品店长期销售过期食品。", "食品药品安全"),
]


def answer(success: bool, code: str, message: str, data: Any = None) -> JSONResponse:
    return JSONResponse({"success": success, "errCode": code, "errMsg": message, "data": data})


def _busy() -> JSONResponse:
    return answer(False, "E9999", "系统繁忙")


def clue(state: SimState, **overrides: Any) -> dict[str, Any]:
    serial = state.next_serial()
    clue_type, subject, detail, domain = CLUES[serial % len(CLUES)]
    submitted = datetime.now(UTC) - timedelta(hours=state.rng.randrange(1, 72))
    record: dict[str, Any] = {
        "clueNo": f"JCY150203{submitted.astimezone(CST):%Y%m%d}{serial:04d}",
        "clueType": clue_type,
        "submitTime": local_time(submitted),
        "anonymous": False,
        "submitter": {"name": NAMES[serial % len(NAMES)], "mobile": mobile(state.rng)},
        "subject": subject,
        "detail": detail,
        "place": "昆都仑区昆河沿岸",
        "regionCode": "150203001000",
        "involvedCount": 1,
    }
    if domain:
        record["domain"] = domain
    record.update(overrides)
    return record


def create_app(
    app_key: str, secret: str, webhook_secret: str, hub_url: str | None = None, *, tolerance_s: int = 300
) -> FastAPI:
    app = FastAPI(title="12309中国检察网 线索办理平台 (simulator)")
    state = SimState(SYSTEM, webhook_secret, hub_url)
    install_controls(app, state, _busy)

    @app.post("/api/12309/v1/clue/result", tags=["12309 API"])
    async def clue_result(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
            content = body["content"]
            params = {k: body.get(k) for k in ("appKey", "timestamp", "serialNo")}
            params["content"] = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        except (ValueError, KeyError, TypeError):
            return answer(False, "E2001", "参数错误")
        if params["appKey"] != app_key:
            state.rejected += 1
            return answer(False, "E1003", "appKey无效")
        expected = hashlib.sha256(f"{sorted_params(params)}&secret={secret}".encode()).hexdigest().upper()
        if not same(str(body.get("sign", "")), expected):
            state.rejected += 1
            return answer(False, "E1001", "签名错误")
        try:
            stamp = int(str(params["timestamp"]))
        except ValueError:
            return answer(False, "E1002", "时间戳无效")
        if abs(time.time() - stamp) > tolerance_s:
            state.rejected += 1
            return answer(False, "E1002", "时间戳已过期")
        if state.take_failure():
            return _busy()
        serial_no = str(params.get("serialNo") or "")
        if not serial_no:
            return answer(False, "E2001", "缺少serialNo")
        earlier = state.earlier_answer(serial_no)
        if earlier is not None:
            return answer(True, "0", "重复请求", {**earlier, "repeated": True})
        try:
            clue_no = str(content["clueNo"])
            status = int(content["handleStatus"])
            datetime.strptime(str(content["handleTime"]), LOCAL)
        except (KeyError, TypeError, ValueError):
            return answer(False, "E2001", "参数错误")
        if status not in STATUS:
            return answer(False, "E2001", "handleStatus不正确")
        record = state.records.get(clue_no)
        if record is None:
            return answer(False, "E3001", "线索不存在")
        redo = status == 2 and record.get("handleStatus", 0) >= 3
        round_ = record.get("_round", 0) + (1 if redo else 0)
        entry = {
            "request_id": serial_no,
            "ref": clue_no,
            "handleStatus": status,
            "action": STATUS[status],
            "resultType": content.get("resultType"),
            "hubCaseNo": content.get("hubCaseNo"),
        }
        state.advance(clue_no, (round_, status), entry)
        record.update(handleStatus=status, statusName=STATUS[status], _round=round_)
        data = state.applied(serial_no, entry, {"clueNo": clue_no, "handleStatus": status})
        return answer(True, "0", "", data)

    install_push(
        app,
        state,
        "submission",
        f"/adapters/{SYSTEM}/submissions",
        clue,
        "clueNo",
        lambda _: {"handleStatus": 0},
    )

    return app


def from_settings(settings: GatewaySettings) -> FastAPI:
    return create_app(*credentials(SYSTEM, settings), hub_url_of(settings))


if __name__ == "__main__":  # pragma: no cover - `hub up --simulators`
    run_simulator(SYSTEM, from_settings)
