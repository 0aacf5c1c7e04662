"""Court pre-litigation mediation (诉调对接) ↔ hub cases. Tables here are the ones in
docs/adapters/court.md; a test keeps the two in step.

Their style: the court information systems' pinyin-initial field names (ah 案号, ay 案由, sqr 申请人,
bsqr 被申请人, wtsj 委托时间 …), string codes, `yyyy-MM-dd HH:mm:ss` Beijing time, and case numbers
(案号) in the national format `(2026)内0203民诉前调1234号`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gateway.adapters.common import ExternalState, local_time, parse_local_time

SYSTEM = "court"
CHANNEL = "court"

# 案由 ay (民事案件案由规定) → our category; an unlisted cause is left to the hub's classifier.
CAUSES: dict[str, str] = {
    "买卖合同纠纷": "contract",
    "服务合同纠纷": "contract",
    "租赁合同纠纷": "contract",
    "房屋买卖合同纠纷": "contract",
    "商品房预售合同纠纷": "contract",
    "民间借贷纠纷": "finance",
    "金融借款合同纠纷": "finance",
    "信用卡纠纷": "finance",
    "劳动争议": "labour",
    "追索劳动报酬纠纷": "labour",
    "物业服务合同纠纷": "property",
    "相邻关系纠纷": "neighbour",
    "婚姻家庭纠纷": "family",
    "离婚纠纷": "family",
    "继承纠纷": "family",
    "建设工程施工合同纠纷": "construction_payment",
    "土地承包经营权纠纷": "land_compensation",
}

# 调解状态 tjzt: the mediation's state on the court's side
STATE: dict[str, str] = {
    "0": "待受理",
    "1": "已受理",
    "2": "调解中",
    "3": "调解成功（待司法确认）",
    "4": "调解不成（转立案）",
    "5": "已结案",
}

# 反馈类型 jglx
RESULT_TYPES: dict[str, str] = {
    "1": "受理委派",
    "2": "调解成功，申请司法确认",
    "3": "调解不成，退回立案",
    "4": "结案",
    "6": "诉讼引导（移送立案）",
    "7": "重新调解",
    "9": "其他",
}

# Our reply outcome → what the court does next: an agreement goes for judicial confirmation
# (司法确认), anything short of one goes back to filing (立案).
OUTCOMES: dict[str, tuple[str, str]] = {
    "mediated": ("2", "3"),
    "resolved": ("2", "3"),
    "partially_resolved": ("3", "4"),
    "unresolved": ("3", "4"),
    "referred_to_litigation": ("3", "4"),
}
OUTCOME_UNKNOWN = ("9", "2")

# Our update → jglx and tjzt after it (replied: by outcome, above).
OUTBOUND: dict[str, ExternalState] = {
    "registered": ExternalState("1", "1", "受理委派"),
    "replied": ExternalState("2|3", "3|4", "调解结果"),
    "referred_to_court": ExternalState("6", "4", "诉讼引导"),
    "closed": ExternalState("4", "5", "结案"),
    "reopened": ExternalState("7", "2", "重新调解"),
}

REVERSE_FIELDS: dict[str, str] = {
    "source_ref": "ah",
    "title": "ay",
    "description": "ssqq",
    "reporter": "sqr",
    "reporter.name": "sqr.0.xm",
    "reporter.phone": "sqr.0.lxdh",
    "reporter.id_number": "sqr.0.sfzhm",
    "location": "sqr.0.dz",
    "location.address": "sqr.0.dz",
    "location.street_code": "jddm",
    "amount_yuan": "bdje",
    "people_involved": "sqr",
    "occurred_at": "wtsj",
}

NO_ADDRESS = "（法院委派，未提供地址）"


def _local(value: str) -> str:
    try:
        parse_local_time(value)
    except ValueError:
        raise ValueError("must be yyyy-MM-dd HH:mm:ss (Beijing time)") from None
    return value


LocalTime = Annotated[str, AfterValidator(_local)]


class _Theirs(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Party(_Theirs):
    xm: str = Field(min_length=1, max_length=50)  # 姓名/名称
    lxdh: str | None = Field(default=None, max_length=20)  # 联系电话
    sfzhm: str | None = Field(default=None, max_length=32)  # 身份证号码
    dz: str | None = Field(default=None, max_length=300)  # 地址


class MediationRequest(_Theirs):
    """诉前委派调解 as the court delegates it (POST /adapters/court/mediation-requests)."""

    ah: str = Field(min_length=6, max_length=64, pattern=r"^[（(]\d{4}[）)].+号$")  # 案号
    ay: str = Field(min_length=1, max_length=100)  # 案由
    sqr: list[Party] = Field(min_length=1)  # 申请人
    bsqr: list[Party] = Field(default_factory=list)  # 被申请人
    ssqq: str = Field(min_length=1, max_length=5000)  # 诉讼请求
    bdje: Decimal | None = Field(default=None, ge=0, decimal_places=2)  # 标的金额（元）
    wtsj: LocalTime  # 委托时间
    tjqx: str | None = None  # 调解期限 yyyy-MM-dd
    fydm: str | None = Field(default=None, max_length=20)  # 法院代码
    fymc: str | None = Field(default=None, max_length=100)  # 法院名称
    jddm: str | None = Field(
        default=None, pattern=r"^[1-8]\d{11}$"
    )  # 纠纷发生地街道代码 (12 位统计用区划代码)


def to_case(request: MediationRequest) -> dict[str, Any]:
    applicant = request.sqr[0]
    reporter: dict[str, Any] = (
        {"name": applicant.xm, "phone": applicant.lxdh} if applicant.lxdh else {"anonymous": True}
    )
    if applicant.lxdh and applicant.sfzhm:
        reporter["id_number"] = applicant.sfzhm
    body: dict[str, Any] = {
        "channel": CHANNEL,
        "source_ref": request.ah,
        "request_type": "help",
        "title": f"诉前委派调解：{request.ay}",
        "description": f"{request.fymc or '人民法院'}委派调解（{request.ah}）。案由：{request.ay}。诉讼请求：{request.ssqq}",
        "reporter": reporter,
        "location": {"address": applicant.dz or NO_ADDRESS, "street_code": request.jddm},
        "people_involved": len(request.sqr) + len(request.bsqr),
        "occurred_at": parse_local_time(request.wtsj).isoformat(),
    }
    if request.bdje is not None:
        body["amount_yuan"] = str(request.bdje)
    if request.ay in CAUSES:
        body["category"] = CAUSES[request.ay]
    return body


def _when(data: dict[str, Any]) -> str:
    at = data.get("at")
    return local_time(datetime.fromisoformat(at)) if isinstance(at, str) else local_time()


def result(update: str, case_no: str, court_case_no: str | None, data: dict[str, Any]) -> dict[str, Any]:
    """bizData of the 调解结果反馈 request for one of our updates."""
    if update == "replied":
        jglx, tjzt = OUTCOMES.get(str(data.get("outcome")), OUTCOME_UNKNOWN)
    else:
        state = OUTBOUND[update]
        jglx, tjzt = state.action, str(state.state)
    biz: dict[str, Any] = {
        "jglx": jglx,
        "tjzt": tjzt,
        "fksj": _when(data),
        "tjzz": "综治中心人民调解委员会",
        "zzbh": case_no,
    }
    if court_case_no:
        biz["ah"] = court_case_no
    if update == "replied" and jglx == "2":
        biz["tjxy"] = data.get("summary") or "双方达成调解协议"  # 调解协议内容
    elif update == "replied":
        biz["sbyy"] = data.get("summary") or "调解未达成协议"  # 调解不成原因
    elif update == "referred_to_court":
        biz["ydly"] = data.get("summary") or "经调解未能化解，引导通过诉讼解决"  # 引导理由
        if data.get("category"):
            biz["jflb"] = data["category"]
    return biz
