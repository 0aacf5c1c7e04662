"""Loopback simulator of a 12345 platform's open API (docs/adapters/hotline12345.md), for tests and
`hub up --simulators`.

It checks appKey, the HMAC-SHA256 `sign` over the sorted parameters and the millisecond timestamp
(5 minutes), answers `{success, code, message, data}` with the platform's codes, applies each
`requestId` once, keeps its work orders and their states (GET list API), and pushes work orders,
urges, ratings and its audit of our extension requests (延期申请审核) to the hub's webhooks, signed.
Test controls: gateway/adapters/simkit.py.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from gateway.adapters.common import CST, LOCAL, hmac_hex, local_time, same, sorted_params
from gateway.adapters.simkit import (
    NAMES,
    SAMPLES,
    SimState,
    credentials,
    hub_url_of,
    install_controls,
    install_push,
    mobile,
    public,
    run_simulator,
)
from gateway.settings import GatewaySettings

SYSTEM = "hotline12345"

# The platform's own code table (its documentation, not our mapping).
STATUS_NAMES = {0: "待签收", 1: "已签收", 2: "办理中", 3: "已办结待回访", 4: "已归档", 5: "重办", 6: "已回退"}
FEEDBACK_TYPES = {
    1: "签收",
    2: "交办",
    3: "部门签收",
    4: "办结反馈",
    5: "归档",
    6: "重办",
    7: "回退",
    8: "延期申请",
}
FEEDBACK_STATUS = {1: 1, 2: 2, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6, 8: 2}
# How far along each state is; 重办 starts a new round of handling; 已回退 ends ours.
PROGRESS = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 2, 6: 4}
RETURN_TYPES = {1: "非本单位职责", 2: "不属本辖区", 3: "诉求信息不全", 4: "重复工单", 9: "其他"}
AUDIT_RESULTS = {1: "同意延期", 2: "不同意延期"}


def _refusal(feedback_type: int, biz: dict[str, Any]) -> str | None:
    """What the platform refuses in a 回退 or 延期申请 (their own required fields)."""
    if feedback_type == 7:
        if biz.get("returnType") not in RETURN_TYPES:
            return "returnType不正确"
        if not str(biz.get("returnReason") or "").strip():
            return "缺少returnReason"
    if feedback_type == 8:
        days = biz.get("delayDays")
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            return "delayDays须为正整数"
        if not str(biz.get("applyReason") or "").strip():
            return "缺少applyReason"
        if biz.get("applyLimitTime") is not None:
            try:
                datetime.strptime(str(biz["applyLimitTime"]), LOCAL)
            except ValueError:
                return "applyLimitTime格式不正确"
    return None


def envelope(code: int, message: str, data: Any = None) -> JSONResponse:
    return JSONResponse({"success": code == 200, "code": code, "message": message, "data": data})


def _busy() -> JSONResponse:
    return envelope(50000, "系统繁忙，请稍后重试")


def _expected_sign(params: dict[str, Any], secret: str) -> str:
    return hmac_hex(secret, sorted_params(params, skip=("sign",))).upper()


def work_order(state: SimState, status: int = 0, **overrides: Any) -> dict[str, Any]:
    """A realistic work order in the platform's own fields."""
    rng = state.rng
    serial = state.next_serial()
    title, content, address = SAMPLES[serial % len(SAMPLES)]
    created = datetime.now(UTC) - timedelta(minutes=rng.randrange(5, 600))
    order: dict[str, Any] = {
        "orderNo": f"GD{created.astimezone(CST):%Y%m%d}{serial:06d}",
        "orderType": 3,
        "title": title,
        "content": content,
        "citizenName": NAMES[serial % len(NAMES)],
        "citizenPhone": mobile(rng),
        "anonymous": 0,
        "address": f"{address}{100 + serial % 9000}室",  # one household per work order
        "areaCode": "150203001000",
        "createTime": local_time(created),
        "limitTime": local_time(created + timedelta(days=5)),
        "urgency": 0,
        "categoryName": "城乡建设",
        "status": status,
    }
    order.update(overrides)
    return order


def create_app(
    app_key: str,
    app_secret: str,
    webhook_secret: str,
    hub_url: str | None = None,
    *,
    tolerance_s: int = 300,
) -> FastAPI:
    app = FastAPI(title="12345 政务服务便民热线 工单平台 (simulator)")
    state = SimState(SYSTEM, webhook_secret, hub_url)
    install_controls(app, state, _busy)

    def check(params: dict[str, Any]) -> JSONResponse | None:
        if params.get("appKey") != app_key:
            return envelope(40006, "appKey无效")
        if not same(str(params.get("sign", "")), _expected_sign(params, app_secret)):
            return envelope(40001, "签名错误")
        try:
            stamp = int(str(params.get("timestamp")))
        except ValueError:
            return envelope(40002, "时间戳无效")
        if abs(time.time() * 1000 - stamp) > tolerance_s * 1000:
            return envelope(40002, "时间戳已过期")
        if state.take_failure():
            return _busy()
        return None

    @app.post("/openapi/v2/workorder/feedback", tags=["12345 open API"])
    async def feedback(request: Request) -> JSONResponse:
        try:
            params = await request.json()
        except ValueError:
            return envelope(40003, "请求体不是合法JSON")
        missing = [
            k
            for k in ("appKey", "method", "timestamp", "requestId", "bizContent", "sign")
            if not params.get(k)
        ]
        if missing:
            return envelope(40003, f"缺少参数: {','.join(missing)}")
        refused = check(params)
        if refused is not None:
            state.rejected += 1
            return refused
        request_id = str(params["requestId"])
        earlier = state.earlier_answer(request_id)
        if earlier is not None:
            return envelope(200, "重复请求，已忽略", {**earlier, "duplicate": True})
        try:
            biz = json.loads(params["bizContent"])
            order_no = str(biz["orderNo"])
            feedback_type = int(biz["feedbackType"])
            datetime.strptime(str(biz["handleTime"]), LOCAL)
        except (ValueError, KeyError, TypeError):
            return envelope(40003, "bizContent参数错误")
        if feedback_type not in FEEDBACK_TYPES or biz.get("status") != FEEDBACK_STATUS[feedback_type]:
            return envelope(40003, "feedbackType或status不正确")
        refusal = _refusal(feedback_type, biz)
        if refusal is not None:
            return envelope(40003, refusal)
        record = state.records.get(order_no)
        if record is None:
            return envelope(40004, "工单不存在")
        status = FEEDBACK_STATUS[feedback_type]
        round_ = record.get("_round", 0) + (1 if feedback_type == 6 else 0)
        entry = {
            "request_id": request_id,
            "ref": order_no,
            "feedbackType": feedback_type,
            "action": FEEDBACK_TYPES[feedback_type],
            "status": status,
            "hubCaseNo": biz.get("hubCaseNo"),
            "handleResult": biz.get("handleResult"),
            "handleUnit": biz.get("handleUnit"),
            "handleOpinion": biz.get("handleOpinion"),
        }
        if feedback_type == 7:
            entry.update(returnType=biz["returnType"], returnReason=biz["returnReason"])
        if feedback_type == 8:
            delay_id = f"YQ{order_no[2:]}{len(state.applications) + 1:03d}"
            state.applications[delay_id] = {
                "orderNo": order_no,
                "delayDays": biz["delayDays"],
                "applyLimitTime": biz.get("applyLimitTime"),
                "answered": False,
            }
            entry.update(
                delayId=delay_id,
                delayDays=biz["delayDays"],
                applyLimitTime=biz.get("applyLimitTime"),
                applyReason=biz.get("applyReason"),
            )
        state.advance(order_no, (round_, PROGRESS[status]), entry)
        record.update(
            status=status,
            statusName=STATUS_NAMES[status],
            updateTime=local_time(),
            _round=round_,
            hubCaseNo=biz.get("hubCaseNo") or record.get("hubCaseNo"),
        )
        answer = {"orderNo": order_no, "status": status, "requestId": request_id}
        if "delayId" in entry:
            answer["delayId"] = entry["delayId"]
        state.applied(request_id, entry, answer)
        return envelope(200, "操作成功", answer)

    @app.get("/openapi/v2/workorder/list", tags=["12345 open API"])
    async def list_orders(request: Request) -> JSONResponse:
        params = dict(request.query_params)
        refused = check(params)
        if refused is not None:
            state.rejected += 1
            return refused
        try:
            page_no = max(int(params.get("pageNo", 1)), 1)
            page_size = min(max(int(params.get("pageSize", 20)), 1), 1000)
        except ValueError:
            return envelope(40003, "分页参数错误")
        records = list(state.records.values())
        page = records[(page_no - 1) * page_size : page_no * page_size]
        return envelope(
            200,
            "查询成功",
            {
                "total": len(records),
                "pageNo": page_no,
                "pageSize": page_size,
                "records": [public(r) for r in page],
            },
        )

    @app.post("/_sim/seed", tags=["simulator"])
    async def seed(count: int = 1, status: int = 4) -> dict[str, Any]:
        """Historical work orders the platform already holds (for back-fill and reconciliation)."""
        made = []
        for _ in range(max(count, 0)):
            order = work_order(state, status=status)
            state.records[order["orderNo"]] = {
                **order,
                "statusName": STATUS_NAMES[status],
                "updateTime": order["createTime"],
                "_progress": (0, PROGRESS[status]),
            }
            made.append(order["orderNo"])
        return {"count": len(made), "orderNos": made}

    @app.post("/_sim/set-status", tags=["simulator"])
    async def set_status(order_no: str, status: int) -> dict[str, Any]:
        """Change a work order on the platform's side (an operator there, or lost data): drift."""
        record = state.records[order_no]
        record.update(
            status=status,
            statusName=STATUS_NAMES[status],
            _progress=(record.get("_round", 0), PROGRESS[status]),
        )
        return public(record)

    install_push(
        app,
        state,
        "work-order",
        f"/adapters/{SYSTEM}/work-orders",
        work_order,
        "orderNo",
        lambda order: {"statusName": STATUS_NAMES[order["status"]]},
    )

    @app.post("/_sim/push/urge", tags=["simulator"])
    async def push_urge(order_no: str, content: str = "市民再次来电催促，请加快办理") -> dict[str, Any]:
        record = state.records.get(order_no, {})
        record["urgeTimes"] = int(record.get("urgeTimes", 0)) + 1
        urge = {
            "orderNo": order_no,
            "urgeId": f"CB{order_no[2:]}{record['urgeTimes']:02d}",
            "urgeTime": local_time(),
            "urgeContent": content,
            "urgeTimes": record["urgeTimes"],
        }
        status, answer = await state.push(f"/adapters/{SYSTEM}/urges", urge)
        return {"urgeId": urge["urgeId"], "status": status, "response": answer}

    @app.post("/_sim/answer/extension", tags=["simulator"])
    async def answer_extension(
        order_no: str, approve: bool = True, limit_time: str | None = None, opinion: str | None = None
    ) -> dict[str, Any]:
        """The platform audits the latest unanswered 延期申请 of a work order and pushes its answer
        (approved: the new limitTime is `limit_time`, else the one applied for, else limitTime +
        delayDays days)."""
        pending = [k for k, v in state.applications.items() if v["orderNo"] == order_no and not v["answered"]]
        if not pending:
            return {"error": f"no unanswered 延期申请 for {order_no}"}
        delay_id = pending[-1]
        delay = state.applications[delay_id]
        record = state.records.get(order_no, {})
        new_limit = None
        if approve:
            new_limit = limit_time or delay.get("applyLimitTime")
            if not new_limit:
                base = datetime.strptime(str(record.get("limitTime")), LOCAL).replace(tzinfo=CST)
                new_limit = local_time(base + timedelta(days=int(delay["delayDays"])))
        result = {
            "orderNo": order_no,
            "delayId": delay_id,
            "auditResult": 1 if approve else 2,
            "newLimitTime": new_limit,
            "auditOpinion": opinion or ("同意延期" if approve else "不同意延期，请按期办结"),
            "auditTime": local_time(),
        }
        status, answer = await state.push(f"/adapters/{SYSTEM}/extension-results", result)
        if status == 200:
            delay["answered"] = True
            if new_limit:
                record["limitTime"] = new_limit
        return {"delayId": delay_id, "newLimitTime": new_limit, "status": status, "response": answer}

    @app.post("/_sim/push/rating", tags=["simulator"])
    async def push_rating(order_no: str, satisfaction: int = 1) -> dict[str, Any]:
        rating = {
            "orderNo": order_no,
            "visitId": f"HF{order_no[2:]}{state.next_serial():04d}",
            "visitTime": local_time(),
            "satisfaction": satisfaction,
            "visitContent": {1: "满意", 2: "基本满意", 3: "不满意，问题没有解决"}.get(satisfaction, ""),
        }
        status, answer = await state.push(f"/adapters/{SYSTEM}/ratings", rating)
        return {"visitId": rating["visitId"], "status": status, "response": answer}

    return app


def from_settings(settings: GatewaySettings) -> FastAPI:
    return create_app(*credentials(SYSTEM, settings), hub_url_of(settings))


if __name__ == "__main__":  # pragma: no cover - `hub up --simulators`
    run_simulator(SYSTEM, from_settings)
