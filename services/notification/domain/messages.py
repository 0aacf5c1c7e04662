"""Which messages an event causes: template ids, parameters and audiences (pure; no I/O).

Handlers turn these plans into ledger rows; who an audience is (mobiles, a webhook) comes from the
contact registry, not from here. Parameter values are fitted to the provider's length limits here,
so a long department name is shortened with "…" rather than rejected by the provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.notification.domain.templates import TemplateCatalog, format_deadline

# Who, besides the citizen, hears of an event: the department's contact person, its head, the
# centre's leaders, the political-legal committee (政法委), and the department's own system.
DepartmentAudience = Literal["contact", "head", "centre_leader", "political_legal_committee", "webhook"]

ROLE_ZH = {"lead": "主办", "assisting": "协办"}
STAGE_ZH = {"acknowledge": "报到签收", "handling": "办理答复"}

# Short labels for SMS (≤ 20 characters); the same codes as intake's categories.
CATEGORY_ZH = {
    "property": "物业纠纷",
    "neighbour": "邻里纠纷",
    "family": "婚姻家庭纠纷",
    "labour": "劳资纠纷",
    "contract": "合同纠纷",
    "finance": "金融纠纷",
    "land_compensation": "土地征收补偿纠纷",
    "construction_payment": "工程款纠纷",
    "public_facilities_alteration": "私改公共设施",
    "noise": "噪声扰民",
    "sanitation": "环境卫生",
    "public_security": "治安问题",
    "petition": "信访事项",
    "law_related": "涉法涉诉",
    "public_interest_clue": "公益诉讼线索",
    "other": "其他",
}

SUPERVISION_TEMPLATES = {
    "reminder": "supervision_reminder",
    "ordinary": "supervision_ordinary",
    "yellow_card": "supervision_yellow",
    "red_card": "supervision_red",
}
# The ladder of RULES.md: the department contact always, its head from the deadline on (提醒函),
# the centre leader from the yellow card, the political-legal committee at the red card.
SUPERVISION_AUDIENCES: dict[str, tuple[DepartmentAudience, ...]] = {
    "reminder": ("contact", "webhook"),
    "ordinary": ("contact", "head", "webhook"),
    "yellow_card": ("contact", "head", "centre_leader", "webhook"),
    "red_card": ("contact", "head", "centre_leader", "political_legal_committee", "webhook"),
}
# Used when an event says a card is due but gives no overdue count.
DEFAULT_OVERDUE_DAYS = {"yellow_card": 1, "red_card": 3}

ELLIPSIS = "…"


@dataclass(frozen=True)
class Planned:
    """One message to send: a template, its parameters, and who receives it."""

    template: str
    params: dict[str, str]
    audiences: tuple[DepartmentAudience, ...] = ()


def fit_params(catalog: TemplateCatalog, template_id: str, params: Mapping[str, str]) -> dict[str, str]:
    """Shorten values over the provider's per-parameter limit (ending in "…"); keep the others."""
    limits = {p.name: p.max_length for p in catalog.get(template_id).params}
    fitted: dict[str, str] = {}
    for name, value in params.items():
        text = str(value).strip()
        limit = limits.get(name)
        if limit is not None and len(text) > limit:
            text = text[: limit - 1] + ELLIPSIS
        fitted[name] = text
    return fitted


def category_label(code: str) -> str:
    return CATEGORY_ZH.get(code, code)


def acceptance(case_no: str, due_at: datetime) -> Planned:
    """受理告知 to the citizen."""
    return Planned("case_accepted", {"case_no": case_no, "deadline": format_deadline(due_at)})


def dispatch_whistle(case_no: str, category: str, role: str, ack_due_at: datetime) -> Planned:
    """吹哨 to the department: its contact person and its system."""
    return Planned(
        "referral_dispatched",
        {
            "case_no": case_no,
            "category": category_label(category),
            "role": ROLE_ZH.get(role, role),
            "ack_deadline": format_deadline(ack_due_at),
        },
        ("contact", "webhook"),
    )


def supervision(case_no: str, level: str, stage: str, due_at: datetime, overdue: int) -> Planned:
    """One step of the supervision ladder (督办) to everyone that step brings in."""
    template = SUPERVISION_TEMPLATES[level]
    params = {"case_no": case_no, "stage": STAGE_ZH.get(stage, stage)}
    if level in DEFAULT_OVERDUE_DAYS:
        days = overdue if overdue > 0 else DEFAULT_OVERDUE_DAYS[level]
        params["overdue"] = f"{days}个工作日"
    else:
        params["deadline"] = format_deadline(due_at)
    return Planned(template, params, SUPERVISION_AUDIENCES[level])


def extension_decision(
    case_no: str, approved: bool, new_due_at: datetime | None, due_at: datetime | None
) -> Planned:
    """延期批复 to the department that asked."""
    if approved:
        if new_due_at is None:
            raise ValueError("an approved extension needs the new deadline")
        return Planned(
            "extension_approved",
            {"case_no": case_no, "new_deadline": format_deadline(new_due_at)},
            ("contact", "webhook"),
        )
    if due_at is None:
        raise ValueError("a denied extension needs the deadline that stands")
    return Planned(
        "extension_denied", {"case_no": case_no, "deadline": format_deadline(due_at)}, ("contact", "webhook")
    )


def replied(case_no: str, lead_department_name: str) -> tuple[Planned, Planned]:
    """办结告知 then the callback invitation (回访), both to the citizen."""
    return (
        Planned("case_replied", {"case_no": case_no, "department": lead_department_name}),
        Planned("callback_invitation", {"case_no": case_no}),
    )


# --- worklist tasks (待办) to centre staff ------------------------------------------------------------

TASK_TEMPLATES = {
    "follow_up": "task_follow_up",
    "weak_signal_burst": "task_weak_signal_burst",
    "repeat_reporter": "task_repeat_reporter",
}
COLOUR_ZH = {"red": "红色", "orange": "橙色", "yellow": "黄色", "blue": "蓝色"}


def window_label(start: datetime | None, end: datetime | None) -> str:
    """A window's length as people say it: 30天, 24小时, 90分钟."""
    if start is None or end is None:
        return ""
    minutes = max(round((end - start).total_seconds() / 60), 1)
    if minutes % (24 * 60) == 0 and minutes >= 48 * 60:
        return f"{minutes // (24 * 60)}天"
    if minutes % 60 == 0:
        return f"{minutes // 60}小时"
    return f"{minutes}分钟"


def area_label(scope: str | None, area: str | None, area_name: str | None) -> str:
    if scope == "grid":
        return f"网格{area}"
    if area_name:
        return f"{area_name}辖区"
    return f"街道{area}" if area else ""


def task(
    kind: str,
    *,
    case_no: str,
    due_at: datetime,
    case_count: int,
    category: str | None = None,
    colour: str | None = None,
    sequence: int | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    scope: str | None = None,
    area: str | None = None,
    area_name: str | None = None,
) -> Planned:
    """A new worklist task, to the centre's contact for its kind (and the centre's system): the case
    number and what to do, nothing about the citizen."""
    template = TASK_TEMPLATES[kind]
    audiences: tuple[DepartmentAudience, ...] = ("contact", "webhook")
    if kind == "follow_up":
        params = {
            "case_no": case_no,
            "colour": COLOUR_ZH.get(colour or "", colour or ""),
            "sequence": str(sequence or 1),
            "due": format_deadline(due_at),
        }
    elif kind == "weak_signal_burst":
        params = {
            "area": area_label(scope, area, area_name),
            "window": window_label(window_start, window_end),
            "category": category_label(category or "other"),
            "count": str(case_count),
            "case_no": case_no,
        }
    else:
        params = {
            "window": window_label(window_start, window_end),
            "count": str(case_count),
            "case_no": case_no,
        }
    return Planned(template, params, audiences)
