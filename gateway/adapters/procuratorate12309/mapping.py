"""Procuratorate 12309 (检察服务中心) complaints and public-interest clues ↔ hub cases. Tables here are
the ones in docs/adapters/procuratorate12309.md; a test keeps the two in step.

Their style: camelCase fields with a nested submitter, integer codes, `yyyy-MM-dd HH:mm:ss` Beijing
time, clue numbers `JCY` + 6-digit district + date + serial (JCY150203202611220001).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from gateway.adapters.common import ExternalState, local_time, parse_local_time

SYSTEM = "procuratorate12309"
CHANNEL = "procuratorate12309"

# 线索类型 clueType → our request_type and category (None: the hub classifies)
CLUE_TYPES: dict[int, tuple[str, str | None, str]] = {
    1: ("complaint", "law_related", "控告"),
    2: ("complaint", "law_related", "申诉"),
    3: ("report", None, "举报"),
    4: ("report", "public_interest_clue", "公益诉讼线索"),
}

# 办理状态 handleStatus (their state codes)
STATUS: dict[int, str] = {0: "待受理", 1: "已受理", 2: "办理中", 3: "已答复", 4: "已办结"}

# 办理结果类型 resultType ← our reply outcome
RESULT_TYPES: dict[str, tuple[int, str]] = {
    "resolved": (1, "已解决"),
    "mediated": (1, "已解决"),
    "partially_resolved": (2, "部分解决"),
    "unresolved": (3, "未解决"),
    "referred_to_litigation": (4, "已移送（诉讼）"),
}

# Our update → handleStatus after it (the action is the status they record).
OUTBOUND: dict[str, ExternalState] = {
    "registered": ExternalState("accept", 1, "受理"),
    "dispatched": ExternalState("handle", 2, "交办"),
    "replied": ExternalState("reply", 3, "答复"),
    "closed": ExternalState("close", 4, "办结"),
    "reopened": ExternalState("redo", 2, "重新办理"),
}

REVERSE_FIELDS: dict[str, str] = {
    "source_ref": "clueNo",
    "request_type": "clueType",
    "title": "subject",
    "description": "detail",
    "reporter": "submitter",
    "reporter.name": "submitter.name",
    "reporter.phone": "submitter.mobile",
    "reporter.id_number": "submitter.idCard",
    "location": "place",
    "location.address": "place",
    "location.street_code": "regionCode",
    "people_involved": "involvedCount",
    "occurred_at": "submitTime",
}

NO_ADDRESS = "（线索未提供地点）"


def _local(value: str) -> str:
    try:
        parse_local_time(value)
    except ValueError:
        raise ValueError("must be yyyy-MM-dd HH:mm:ss (Beijing time)") from None
    return value


LocalTime = Annotated[str, AfterValidator(_local)]


class _Theirs(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Submitter(_Theirs):
    name: str | None = Field(default=None, max_length=50)
    mobile: str | None = Field(default=None, max_length=20)
    idCard: str | None = Field(default=None, max_length=32)


class Submission(_Theirs):
    """A complaint or clue as 12309 passes it (POST /adapters/procuratorate12309/submissions)."""

    clueNo: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9\-]+$")
    clueType: int
    submitTime: LocalTime
    anonymous: bool = False
    submitter: Submitter = Field(default_factory=Submitter)
    subject: str = Field(min_length=1, max_length=200)
    detail: str = Field(min_length=1, max_length=5000)
    place: str | None = Field(default=None, max_length=300)
    regionCode: str | None = Field(default=None, pattern=r"^\d{6}(\d{6})?$")
    domain: str | None = Field(default=None, max_length=50)  # 公益诉讼领域 (clueType 4)
    involvedCount: int = Field(default=1, ge=1, le=100_000)

    @field_validator("clueType")
    @classmethod
    def _known_type(cls, value: int) -> int:
        if value not in CLUE_TYPES:
            raise ValueError(f"unknown clueType {value}; expected one of {sorted(CLUE_TYPES)}")
        return value


def to_case(submission: Submission) -> dict[str, Any]:
    request_type, category, label = CLUE_TYPES[submission.clueType]
    person = submission.submitter
    anonymous = submission.anonymous or not person.mobile
    reporter: dict[str, Any] = (
        {"anonymous": True} if anonymous else {"name": person.name, "phone": person.mobile}
    )
    if not anonymous and person.idCard:
        reporter["id_number"] = person.idCard
    region = submission.regionCode
    description = submission.detail
    if submission.domain:
        description = f"【{label}·{submission.domain}】{description}"
    body: dict[str, Any] = {
        "channel": CHANNEL,
        "source_ref": submission.clueNo,
        "request_type": request_type,
        "title": submission.subject,
        "description": description,
        "reporter": reporter,
        "location": {
            "address": submission.place or NO_ADDRESS,
            "street_code": region if region and len(region) == 12 else None,
        },
        "people_involved": submission.involvedCount,
        "occurred_at": parse_local_time(submission.submitTime).isoformat(),
    }
    if category:
        body["category"] = category
    return body


def _when(data: dict[str, Any]) -> str:
    at = data.get("at")
    return local_time(datetime.fromisoformat(at)) if isinstance(at, str) else local_time()


def result(update: str, case_no: str, clue_no: str, data: dict[str, Any]) -> dict[str, Any]:
    """`content` of the 办理结果 request for one of our updates."""
    state = OUTBOUND[update]
    department = data.get("department") or "综治中心"
    content: dict[str, Any] = {
        "clueNo": clue_no,
        "handleStatus": state.state,
        "handleTime": _when(data),
        "handleOrg": department if update in ("dispatched", "replied") else "综治中心",
        "hubCaseNo": case_no,
        "handleResult": {
            "registered": f"已受理，事项编号 {case_no}",
            "dispatched": f"已交 {department} 办理",
            "replied": data.get("summary") or "已答复",
            "closed": "已办结",
            "reopened": "重新办理",
        }[update],
    }
    if update == "replied" and data.get("outcome") in RESULT_TYPES:
        content["resultType"] = RESULT_TYPES[data["outcome"]][0]
    return content
