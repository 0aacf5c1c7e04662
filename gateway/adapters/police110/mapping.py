"""Police 110 dispute incidents (警情联动) ↔ hub cases. Tables here are the ones in
docs/adapters/police110.md; a test keeps the two in step.

Their style: the police information systems' pinyin-initial field names (jjdbh 接警单编号, bjsj 报警时间,
jyaq 简要案情 …), string codes, `yyyy-MM-dd HH:mm:ss` Beijing time, incident numbers
`J` + 12-digit unit code + date + serial (J15020300000020261122000123).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from gateway.adapters.common import ExternalState, local_time, parse_local_time

SYSTEM = "police110"
CHANNEL = "police110"

# 警情类别代码 jqlbdm (dispute sub-classes passed to the centre) → our category (None: the hub classifies)
INCIDENT_CLASSES: dict[str, tuple[str | None, str]] = {
    "0601": ("neighbour", "邻里纠纷"),
    "0602": ("family", "家庭纠纷"),
    "0603": ("contract", "经济纠纷"),
    "0604": ("labour", "劳资纠纷"),
    "0605": ("property", "物业纠纷"),
    "0606": ("noise", "噪声扰民"),
    "0607": ("land_compensation", "土地山林纠纷"),
    "0608": ("construction_payment", "工程款纠纷"),
    "0699": (None, "其他纠纷"),
}

# Yes/no flags of the incident (是否…, "1"/"0") → our risk flags
FLAGS: dict[str, tuple[str, str]] = {
    "sfbl": ("violence_threat", "是否有暴力倾向"),
    "sfqt": ("mass_gathering_risk", "是否群体性"),
    "sfmzx": ("criminal_risk", "是否可能民转刑"),
    "sfrt": ("vulnerable_person", "是否涉及老幼病残孕"),
}

# 处理状态 clzt: the incident's linkage state on their side
STATE: dict[str, str] = {
    "0": "待签收",
    "1": "已签收",
    "2": "调处中",
    "3": "已调结",
    "4": "已办结",
}

# 调解结果 tjjg ← our reply outcome
MEDIATION_RESULT: dict[str, tuple[str, str]] = {
    "mediated": ("1", "调解成功"),
    "resolved": ("1", "调解成功"),
    "partially_resolved": ("3", "部分达成"),
    "unresolved": ("2", "调解不成功"),
    "referred_to_litigation": ("4", "引导诉讼"),
}
MEDIATION_UNKNOWN = ("9", "其他")

# Our update → their feedback: fklx (反馈类型) and clzt after it. Police take the sign-for, the
# mediation result and the closing; dispatching inside the hub is none of their business.
OUTBOUND: dict[str, ExternalState] = {
    "registered": ExternalState("01", "1", "签收"),
    "replied": ExternalState("02", "3", "调解结果"),
    "closed": ExternalState("03", "4", "办结"),
    "reopened": ExternalState("04", "2", "重新调处"),
}

REVERSE_FIELDS: dict[str, str] = {
    "source_ref": "jjdbh",
    "title": "jyaq",
    "description": "jyaq",
    "reporter": "bjrdh",
    "reporter.name": "bjrxm",
    "reporter.phone": "bjrdh",
    "location": "sfdz",
    "location.address": "sfdz",
    "location.street_code": "sqdm",
    "people_involved": "sars",
    "occurred_at": "bjsj",
    "category": "jqlbdm",
}


def _local(value: str) -> str:
    try:
        parse_local_time(value)
    except ValueError:
        raise ValueError("must be yyyy-MM-dd HH:mm:ss (Beijing time)") from None
    return value


LocalTime = Annotated[str, AfterValidator(_local)]
YesNo = Annotated[str, Field(pattern=r"^[01]$")]


class Incident(BaseModel):
    """A dispute incident as police 110 passes it (POST /adapters/police110/incidents)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    jjdbh: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")  # 接警单编号
    bjsj: LocalTime  # 报警时间
    bjrxm: str | None = Field(default=None, max_length=50)  # 报警人姓名
    bjrdh: str | None = Field(default=None, max_length=20)  # 报警电话
    sfdz: str = Field(min_length=1, max_length=300)  # 事发地址
    xzqh: str | None = Field(default=None, pattern=r"^\d{6}$")  # 行政区划 (district)
    sqdm: str | None = Field(default=None, pattern=r"^\d{12}$")  # 社区/街道代码
    jqlbdm: str = "0699"  # 警情类别代码
    jyaq: str = Field(min_length=1, max_length=5000)  # 简要案情
    cjdw: str | None = Field(default=None, max_length=100)  # 处警单位
    cjdwdm: str | None = Field(default=None, max_length=20)  # 处警单位代码
    sars: int = Field(default=1, ge=1, le=100_000)  # 涉案人数
    sfbl: YesNo = "0"
    sfqt: YesNo = "0"
    sfmzx: YesNo = "0"
    sfrt: YesNo = "0"

    @field_validator("jqlbdm")
    @classmethod
    def _known_class(cls, value: str) -> str:
        if value not in INCIDENT_CLASSES:
            raise ValueError(f"unknown jqlbdm {value}; expected one of {sorted(INCIDENT_CLASSES)}")
        return value


def to_case(incident: Incident) -> dict[str, Any]:
    category, label = INCIDENT_CLASSES[incident.jqlbdm]
    reporter: dict[str, Any] = (
        {"name": incident.bjrxm or None, "phone": incident.bjrdh} if incident.bjrdh else {"anonymous": True}
    )
    body: dict[str, Any] = {
        "channel": CHANNEL,
        "source_ref": incident.jjdbh,
        "request_type": "complaint",
        "title": f"110警情联动：{label}",
        "description": incident.jyaq,
        "reporter": reporter,
        "location": {"address": incident.sfdz, "street_code": incident.sqdm},
        "people_involved": incident.sars,
        "flags": [flag for field, (flag, _) in FLAGS.items() if getattr(incident, field) == "1"],
        "occurred_at": parse_local_time(incident.bjsj).isoformat(),
    }
    if category:
        body["category"] = category
    return body


def _when(data: dict[str, Any]) -> str:
    at = data.get("at")
    return local_time(datetime.fromisoformat(at)) if isinstance(at, str) else local_time()


def feedback(update: str, case_no: str, incident_no: str, data: dict[str, Any]) -> dict[str, Any]:
    """`data` of the 警情反馈 request for one of our updates."""
    state = OUTBOUND[update]
    out: dict[str, Any] = {
        "jjdbh": incident_no,
        "fklx": state.action,
        "clzt": state.state,
        "fksj": _when(data),
        "fkdw": data.get("department") or "综治中心",
        "zzbh": case_no,
    }
    if update == "registered":
        out["fknr"] = f"综治中心已签收，事项编号 {case_no}"
    elif update == "replied":
        code, label = MEDIATION_RESULT.get(str(data.get("outcome")), MEDIATION_UNKNOWN)
        out["tjjg"] = code
        out["fknr"] = data.get("summary") or label
    elif update == "closed":
        out["fknr"] = "事项已办结"
    elif update == "reopened":
        out["fknr"] = "当事人不满意，重新调处"
    return out
