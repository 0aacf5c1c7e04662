"""What every casework operation checks first: the case exists (locked), and its state allows it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.problems import Problem
from services.intake.actors import Actor
from services.intake.scoping import visible_case
from services.intake.tables import cases

OPEN = "registered"

# What intake still allows on a case in each state (named in 409 answers).
ALLOWED: dict[str, list[str]] = {
    "registered": ["assessment", "category", "merge", "unlink", "notes", "personal-data"],
    "merged": ["personal-data"],  # a note on it goes to the case it was merged into
    "closed": ["unlink", "notes", "personal-data"],
    "withdrawn": ["unlink", "notes", "personal-data"],
    "returned_to_channel": ["unlink", "notes", "personal-data"],
}
STATUS_ZH = {
    "registered": "在办",
    "merged": "已合并",
    "closed": "已办结",
    "withdrawn": "已撤回",
    "returned_to_channel": "已回退来源渠道",
}


def not_found(case_no: str) -> Problem:
    return Problem(404, "未找到该事项", f"没有编号为 {case_no} 的事项", type_="case-not-found")


def conflict(row: Any, detail: str) -> Problem:
    return Problem(
        409,
        "事项状态不允许此操作",
        f"{detail}（当前状态: {row.status} {STATUS_ZH.get(row.status, '')}；允许: "
        f"{', '.join(ALLOWED.get(row.status, [])) or '无'}）",
        type_="case-state-conflict",
        case_no=row.case_no,
        case_status=row.status,
        allowed_actions=ALLOWED.get(row.status, []),
    )


async def lock_case(session: AsyncSession, case_no: str, actor: Actor) -> Any:
    """The case, locked, if the actor may see it (services/intake/scoping.py); else 404."""
    row = await visible_case(session, case_no, actor, lock=True)
    if row is None:
        raise not_found(case_no)
    return row


async def reload_case(session: AsyncSession, case_no: str) -> Any:
    return (await session.execute(select(cases).where(cases.c.case_no == case_no))).one()


def require_open(row: Any, action_zh: str) -> None:
    if row.status != OPEN:
        raise conflict(row, f"事项 {row.case_no} 不能{action_zh}")
