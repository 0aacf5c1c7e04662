"""Who is acting: a role, for a department its unit code, and the API client's id when the gateway
knows it (audit: who did it). Never a person's name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header

from hub.problems import Problem

ROLES = ("centre", "department", "adapter", "ops", "system")


@dataclass(frozen=True)
class Actor:
    role: str
    department: str | None = None
    id: str | None = None  # the authenticated API client (gateway: X-Hub-Actor-Id), not a person

    @property
    def is_department(self) -> bool:
        return self.role == "department"

    def fields(self) -> dict[str, Any]:
        return {"actor_role": self.role, "actor_department": self.department}

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Problem(
                403,
                "无权执行该操作",
                f"角色 {self.role} 不能执行此操作（需要: {', '.join(roles)}）",
                type_="forbidden-role",
            )


SYSTEM = Actor("system")


def actor_from_headers(
    x_hub_actor_role: Annotated[str | None, Header(max_length=32)] = None,
    x_hub_actor_department: Annotated[str | None, Header(max_length=100)] = None,
    x_hub_actor_id: Annotated[str | None, Header(max_length=64, pattern=r"^[\w.@:\-]+$")] = None,
) -> Actor:
    """The gateway passes the caller's role and department (authentication is the gateway's job)."""
    role = (x_hub_actor_role or "centre").strip().lower()
    if role not in ROLES or role == "system":
        raise Problem(
            403,
            "未知角色",
            "X-Hub-Actor-Role 必须是 centre、department、adapter 或 ops",
            type_="forbidden-role",
        )
    department = (x_hub_actor_department or "").strip() or None
    if role == "department" and department is None:
        raise Problem(
            403, "缺少部门", "部门角色必须带 X-Hub-Actor-Department（单位编码）", type_="forbidden-role"
        )
    return Actor(role, department if role == "department" else None, x_hub_actor_id or None)
