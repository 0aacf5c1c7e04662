"""Who is calling intake, and what each role may do here.

The gateway authenticates the client and passes the actor in headers, `X-Hub-Actor-Role` and
`X-Hub-Actor-Id`, and for a named person `X-Hub-Actor-Centre` (an area code: what they may see,
services/intake/scoping.py) and `X-Hub-Actor-Name` (percent-encoded UTF-8, audit only); intake
listens only on loopback or the cluster network, so only the gateway can set them. Everything reads
the actor through `current_actor`, one dependency the auth work can replace
(`app.dependency_overrides[current_actor] = …`) without touching the endpoints. Until then an absent
role means "centre", the hub's staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Header

from hub import scope
from hub.problems import Problem

ROLES = ("centre", "department", "adapter", "ops")
DEFAULT_ROLE = "centre"

# What each role may do in intake (API.md "Auth": ops is read-only and sees no personal data;
# departments see personal data only where their referral needs it, which is not intake's business).
PERMISSIONS: dict[str, frozenset[str]] = {
    "case.register": frozenset({"centre", "adapter"}),
    "assessment.override": frozenset({"centre"}),
    "category.correct": frozenset({"centre"}),
    "case.merge": frozenset({"centre"}),
    "case.unlink": frozenset({"centre"}),
    "case.note": frozenset({"centre", "adapter"}),
    "personal_data.read": frozenset({"centre"}),
    "rules.reload": frozenset({"centre"}),
}

_WHAT = {
    "case.register": "登记事项",
    "assessment.override": "调整风险等级",
    "category.correct": "更正事项类别",
    "case.merge": "合并事项",
    "case.unlink": "解除疑似重复关联",
    "case.note": "补充事项内容",
    "personal_data.read": "查看个人信息",
    "rules.reload": "重新加载研判规则",
}


@dataclass(frozen=True)
class Actor:
    role: str
    id: str | None = None
    # A named person's centre (area code; None: the whole hub) and display name (audit only).
    centre: str | None = None
    name: str | None = None

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def current_actor(
    x_hub_actor_role: Annotated[str | None, Header(max_length=16)] = None,
    x_hub_actor_id: Annotated[str | None, Header(max_length=64, pattern=r"^[\w.@:\-]+$")] = None,
    x_hub_actor_centre: Annotated[str | None, Header(max_length=12, pattern=r"^[0-9]+$")] = None,
    x_hub_actor_name: Annotated[str | None, Header(max_length=300)] = None,
) -> Actor:
    role = (x_hub_actor_role or DEFAULT_ROLE).strip().lower()
    if role not in ROLES:
        raise Problem(403, "无权限", f"未知角色 {role!r}", type_="forbidden")
    centre = x_hub_actor_centre or None
    if centre is not None:
        try:
            scope.level(centre)
        except scope.UnknownCentre:
            raise Problem(
                403, "无权限", f"X-Hub-Actor-Centre {centre} 不是区县、街道或社区编码", type_="forbidden"
            ) from None
    name = unquote(x_hub_actor_name or "", errors="replace").strip() or None
    return Actor(role=role, id=x_hub_actor_id or None, centre=centre, name=name)


CurrentActor = Annotated[Actor, Depends(current_actor)]


def forbidden(actor: Actor, permission: str) -> Problem:
    allowed = ", ".join(sorted(PERMISSIONS[permission]))
    return Problem(
        403,
        "无权限",
        f"角色 {actor.role} 不能{_WHAT[permission]}（允许的角色: {allowed}）",
        type_="forbidden",
        permission=permission,
    )


def require(actor: Actor, permission: str) -> None:
    if not actor.may(permission):
        raise forbidden(actor, permission)
