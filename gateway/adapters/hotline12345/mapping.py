"""12345 政务服务便民热线 work orders ↔ hub cases (双线融合). Tables here are the ones in
docs/adapters/hotline12345.md; a test keeps the two in step.

Their style: camelCase fields, integer codes, `yyyy-MM-dd HH:mm:ss` Beijing time, work-order
numbers `GD` + date + serial (GD20261122000123).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from gateway.adapters.common import ExternalState, local_time, parse_local_time

SYSTEM = "hotline12345"
CHANNEL = "hotline12345"

# 诉求类型 orderType → our request_type
ORDER_TYPES: dict[int, tuple[str, str]] = {
    1: ("consultation", "咨询"),
    2: ("help", "求助"),
    3: ("complaint", "投诉"),
    4: ("report", "举报"),
    5: ("suggestion", "建议"),
}

# 工单状态 status (their state codes)
STATUS: dict[int, str] = {
    0: "待签收",
    1: "已签收",
    2: "办理中",
    3: "已办结待回访",
    4: "已归档",
    5: "重办",
}

# Their state → how far along our updates it is (a back-filled work order's baseline: anything
# ranked at or below it is never pushed back over their history).
STATUS_RANK: dict[int, int] = {0: -1, 1: 0, 2: 2, 3: 3, 4: 4, 5: 1}

# 回访满意度 satisfaction → our callback satisfaction
SATISFACTION: dict[int, tuple[str, str]] = {
    1: ("satisfied", "满意"),
    2: ("basically_satisfied", "基本满意"),
    3: ("dissatisfied", "不满意"),
}

# 办理结果 handleResult (on 办结反馈) ← our reply outcome
HANDLE_RESULT: dict[str, tuple[int, str]] = {
    "resolved": (1, "已解决"),
    "partially_resolved": (2, "部分解决"),
    "unresolved": (3, "未解决"),
    "mediated": (4, "调解成功"),
    "referred_to_litigation": (5, "引导诉讼"),
}

# Our update → their feedback: feedbackType (办理动作) and the work order's status after it.
OUTBOUND: dict[str, ExternalState] = {
    "registered": ExternalState("1", 1, "签收"),
    "dispatched": ExternalState("2", 2, "交办"),
    "acknowledged": ExternalState("3", 2, "部门签收"),
    "replied": ExternalState("4", 3, "办结反馈"),
    "closed": ExternalState("5", 4, "归档"),
    "reopened": ExternalState("6", 5, "重办"),
}

# Our field (as intake names it in errors) → theirs, so a refusal names the field they sent.
REVERSE_FIELDS: dict[str, str] = {
    "source_ref": "orderNo",
    "request_type": "orderType",
    "title": "title",
    "description": "content",
    "reporter": "citizenPhone",
    "reporter.name": "citizenName",
    "reporter.phone": "citizenPhone",
    "location": "address",
    "location.address": "address",
    "location.street_code": "areaCode",
    "occurred_at": "createTime",
    "urgent": "urgency",
}

NO_ADDRESS = "（工单未提供地址）"


def _local(value: str) -> str:
    try:
        parse_local_time(value)
    except ValueError:
        raise ValueError("must be yyyy-MM-dd HH:mm:ss (Beijing time)") from None
    return value


LocalTime = Annotated[str, AfterValidator(_local)]


class _Theirs(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class WorkOrder(_Theirs):
    """A work order as the 12345 platform pushes it (POST /adapters/hotline12345/work-orders)."""

    orderNo: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-_]+$")
    orderType: int
    title: str | None = Field(default=None, max_length=200)
    content: str = Field(min_length=1, max_length=5000)
    citizenName: str | None = Field(default=None, max_length=50)
    citizenPhone: str | None = Field(default=None, max_length=20)
    anonymous: int = Field(default=0, ge=0, le=1)
    address: str | None = Field(default=None, max_length=300)
    areaCode: str | None = Field(default=None, max_length=12)
    createTime: LocalTime
    limitTime: LocalTime | None = None
    urgency: int = Field(default=0, ge=0, le=1)
    status: int = 0  # what their platform shows now (history import); pushes are 0 待签收
    categoryName: str | None = None  # their own classification: kept in docs, the hub classifies

    @field_validator("orderType")
    @classmethod
    def _known_type(cls, value: int) -> int:
        if value not in ORDER_TYPES:
            raise ValueError(f"unknown orderType {value}; expected one of {sorted(ORDER_TYPES)}")
        return value

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: int) -> int:
        if value not in STATUS:
            raise ValueError(f"unknown status {value}; expected one of {sorted(STATUS)}")
        return value


class Urge(_Theirs):
    """催办 (POST /adapters/hotline12345/urges)."""

    orderNo: str = Field(min_length=1, max_length=64)
    urgeId: str = Field(min_length=1, max_length=64)
    urgeTime: LocalTime
    urgeContent: str | None = Field(default=None, max_length=1000)
    urgeTimes: int = Field(default=1, ge=1)


class Rating(_Theirs):
    """回访结果 (POST /adapters/hotline12345/ratings)."""

    orderNo: str = Field(min_length=1, max_length=64)
    visitId: str = Field(min_length=1, max_length=64)
    visitTime: LocalTime
    satisfaction: int
    visitContent: str | None = Field(default=None, max_length=1000)

    @field_validator("satisfaction")
    @classmethod
    def _known(cls, value: int) -> int:
        if value not in SATISFACTION:
            raise ValueError(f"unknown satisfaction {value}; expected 1 满意, 2 基本满意 or 3 不满意")
        return value


def to_case(order: WorkOrder) -> dict[str, Any]:
    """Our POST /internal/v1/cases body for a work order."""
    anonymous = bool(order.anonymous) or not order.citizenPhone
    reporter: dict[str, Any] = (
        {"anonymous": True} if anonymous else {"name": order.citizenName or None, "phone": order.citizenPhone}
    )
    street = order.areaCode if order.areaCode and len(order.areaCode) == 12 else None
    return {
        "channel": CHANNEL,
        "source_ref": order.orderNo,
        "request_type": ORDER_TYPES[order.orderType][0],
        "title": order.title or order.content[:30],
        "description": order.content,
        "reporter": reporter,
        "location": {"address": order.address or NO_ADDRESS, "street_code": street},
        "occurred_at": parse_local_time(order.createTime).isoformat(),
        "urgent": bool(order.urgency),  # 紧急程度 1: grading raises the colour a step
    }


def baseline_rank(order: WorkOrder) -> int:
    return STATUS_RANK[order.status]


def satisfaction_of(rating: Rating) -> str:
    return SATISFACTION[rating.satisfaction][0]


def urged_at(urge: Urge) -> datetime:
    return parse_local_time(urge.urgeTime)


def _when(data: dict[str, Any]) -> str:
    at = data.get("at")
    return local_time(datetime.fromisoformat(at)) if isinstance(at, str) else local_time()


def feedback(update: str, case_no: str, order_no: str, data: dict[str, Any]) -> dict[str, Any]:
    """bizContent of workorder.feedback for one of our updates."""
    state = OUTBOUND[update]
    department = data.get("department") or "综治中心"
    opinion = {
        "registered": f"综治中心已签收，事项编号 {case_no}",
        "dispatched": f"已交办 {department} 办理",
        "acknowledged": f"{department} 已签收",
        "replied": data.get("summary") or "已办结",
        "closed": "已办结归档",
        "reopened": "回访不满意，重新办理",
    }[update]
    biz: dict[str, Any] = {
        "orderNo": order_no,
        "feedbackType": int(state.action),
        "status": state.state,
        "handleTime": _when(data),
        "handleUnit": department if update != "registered" else "综治中心",
        "handleOpinion": opinion,
        "hubCaseNo": case_no,
    }
    if update == "replied" and data.get("outcome") in HANDLE_RESULT:
        biz["handleResult"] = HANDLE_RESULT[data["outcome"]][0]
    return biz
