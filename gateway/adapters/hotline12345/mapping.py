"""12345 政务服务便民热线 work orders ↔ hub cases (双线融合). Tables here are the ones in
docs/adapters/hotline12345.md; a test keeps the two in step.

Their style: camelCase fields, integer codes, `yyyy-MM-dd HH:mm:ss` Beijing time, work-order
numbers `GD` + date + serial (GD20261122000123).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.adapters.common import ExternalState, local_time, parse_local_time

SYSTEM = "hotline12345"
CHANNEL = "hotline12345"
# Whose limit a case's due_by is when it comes from a work order's 办理时限.
LIMIT_SOURCE = "hotline12345.limitTime"

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
    6: "已回退",
}

# Their state → how far along our updates it is (a back-filled work order's baseline: anything
# ranked at or below it is never pushed back over their history).
STATUS_RANK: dict[int, int] = {0: -1, 1: 0, 2: 2, 3: 3, 4: 4, 5: 1, 6: 4}

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

# 回退原因 returnType (on 回退) ← our return reason code
RETURN_TYPES: dict[str, tuple[int, str]] = {
    "not_our_duty": (1, "非本单位职责"),
    "wrong_area": (2, "不属本辖区"),
    "insufficient_info": (3, "诉求信息不全"),
    "duplicate": (4, "重复工单"),
    "other": (9, "其他"),
}

# 审核结果 auditResult (their answer to a 延期申请) → approved?
AUDIT_RESULTS: dict[int, tuple[bool, str]] = {
    1: (True, "同意延期"),
    2: (False, "不同意延期"),
}

# Our update → their feedback: feedbackType (办理动作) and the work order's status after it.
OUTBOUND: dict[str, ExternalState] = {
    "registered": ExternalState("1", 1, "签收"),
    "dispatched": ExternalState("2", 2, "交办"),
    "acknowledged": ExternalState("3", 2, "部门签收"),
    "replied": ExternalState("4", 3, "办结反馈"),
    "closed": ExternalState("5", 4, "归档"),
    "reopened": ExternalState("6", 5, "重办"),
    "returned": ExternalState("7", 6, "回退"),
    "extension_requested": ExternalState("8", 2, "延期申请"),
}
# Updates a merged work order does not get from the case it was merged into: a 延期申请 is about
# the surviving case's own limit (the statuses are what the merged order's citizen waits for).
NOT_FOR_MERGED = frozenset({"extension_requested"})

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
    "due_by": "limitTime",
    "due_by.at": "limitTime",
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


class ExtensionResult(_Theirs):
    """延期申请审核结果 (POST /adapters/hotline12345/extension-results): their answer to our 延期申请."""

    orderNo: str = Field(min_length=1, max_length=64)
    delayId: str = Field(min_length=1, max_length=64)  # their number for the application
    auditResult: int
    newLimitTime: LocalTime | None = None  # the new 办理时限 when approved
    auditOpinion: str | None = Field(default=None, max_length=1000)
    auditTime: LocalTime

    @field_validator("auditResult")
    @classmethod
    def _known_result(cls, value: int) -> int:
        if value not in AUDIT_RESULTS:
            raise ValueError(f"unknown auditResult {value}; expected 1 同意延期 or 2 不同意延期")
        return value

    @model_validator(mode="after")
    def _approval_has_a_limit(self) -> ExtensionResult:
        if AUDIT_RESULTS[self.auditResult][0] and self.newLimitTime is None:
            raise ValueError("newLimitTime is required when auditResult is 1 (同意延期)")
        return self


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
    case: dict[str, Any] = {
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
    if order.limitTime:
        case["due_by"] = {"at": parse_local_time(order.limitTime).isoformat(), "source": LIMIT_SOURCE}
    return case


def baseline_rank(order: WorkOrder) -> int:
    return STATUS_RANK[order.status]


def satisfaction_of(rating: Rating) -> str:
    return SATISFACTION[rating.satisfaction][0]


def urged_at(urge: Urge) -> datetime:
    return parse_local_time(urge.urgeTime)


def extension_answer(result: ExtensionResult) -> tuple[bool, datetime | None]:
    """(approved, the new limit as UTC) of their answer to a 延期申请."""
    approved = AUDIT_RESULTS[result.auditResult][0]
    return approved, parse_local_time(result.newLimitTime) if approved and result.newLimitTime else None


def _when(data: dict[str, Any]) -> str:
    at = data.get("at")
    return local_time(datetime.fromisoformat(at)) if isinstance(at, str) else local_time()


def feedback(update: str, case_no: str, order_no: str, data: dict[str, Any]) -> dict[str, Any]:
    """bizContent of workorder.feedback for one of our updates."""
    state = OUTBOUND[update]
    department = data.get("department") or "综治中心"
    # A work order merged into another case hears that case's updates, under that case's number.
    handled_as = data.get("merged_into") or case_no
    return_type = RETURN_TYPES.get(str(data.get("reason_code")), RETURN_TYPES["other"])
    opinion = {
        "registered": f"综治中心已签收，事项编号 {case_no}",
        "dispatched": f"已交办 {department} 办理",
        "acknowledged": f"{department} 已签收",
        "replied": data.get("summary") or "已办结",
        "closed": "已办结归档",
        "reopened": "回访不满意，重新办理",
        "returned": f"综治中心回退：{return_type[1]}",
        "extension_requested": f"{department} 申请延期 {data.get('amount', '')} 个工作日",
    }[update]
    if data.get("merged_into"):
        opinion = f"（本工单已并入事项 {handled_as} 一并办理）{opinion}"
    centre_acts = update in ("registered", "returned")
    biz: dict[str, Any] = {
        "orderNo": order_no,
        "feedbackType": int(state.action),
        "status": state.state,
        "handleTime": _when(data),
        "handleUnit": "综治中心" if centre_acts else department,
        "handleOpinion": opinion,
        "hubCaseNo": handled_as,
    }
    if update == "replied" and data.get("outcome") in HANDLE_RESULT:
        biz["handleResult"] = HANDLE_RESULT[data["outcome"]][0]
    if update == "returned":
        biz["returnType"] = return_type[0]
        biz["returnReason"] = data.get("reason") or return_type[1]
    if update == "extension_requested":
        biz["delayDays"] = int(data.get("amount") or 0)
        biz["applyReason"] = data.get("reason") or "办理需要更多时间"
        asked = data.get("requested_external_due_at")
        if isinstance(asked, str):
            biz["applyLimitTime"] = local_time(datetime.fromisoformat(asked))
    return biz
