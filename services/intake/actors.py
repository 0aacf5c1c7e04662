"""Who is calling intake, and what each role may do here.

The gateway authenticates the person or system and vouches for it in the internal credential it mints
for every request (hub/credentials.py); the kit's guard (hub/credential_guard.py) has checked it and put
its principal on the request before any endpoint runs, so a request without one never gets here.
Everything reads the actor through `current_actor`, which builds it from that principal (role, id,
kind, centre, display name); nothing a caller can set in a header decides who acts.
A person's centre (an area code) limits what they may see (services/intake/scoping.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from hub import scope
from hub.credential_guard import principal_of
from hub.credentials import PrincipalKind
from hub.problems import Problem

# supervisor (督办): as the centre; grid_worker (网格员): files reports from their grid only
ROLES = ("centre", "department", "adapter", "ops", "supervisor", "grid_worker")
DEFAULT_ROLE = "centre"  # registration called in-process without an actor (never over HTTP)

# What each role may do in intake (API.md "Auth": ops is read-only and sees no personal data;
# departments see personal data only where their referral needs it, which is not intake's business).
PERMISSIONS: dict[str, frozenset[str]] = {
    "case.register": frozenset({"centre", "supervisor", "adapter"}),
    "assessment.override": frozenset({"centre", "supervisor"}),
    "category.correct": frozenset({"centre", "supervisor"}),
    "case.merge": frozenset({"centre", "supervisor"}),
    "case.unlink": frozenset({"centre", "supervisor"}),
    "case.note": frozenset({"centre", "supervisor", "adapter"}),
    "personal_data.read": frozenset({"centre", "supervisor"}),
    "rules.reload": frozenset({"centre", "supervisor"}),
    "grid.report": frozenset({"grid_worker"}),
    "attachment.read": frozenset({"centre", "supervisor"}),
    # The key persons registry (重点人员 / 七色户卡): centre staff; ops and departments never.
    "key_person.register": frozenset({"centre", "supervisor"}),
    "key_person.read": frozenset({"centre", "supervisor"}),
    "key_person.colour": frozenset({"centre", "supervisor"}),
    "key_person.reveal": frozenset({"centre", "supervisor"}),
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
    "grid.report": "上报网格事项",
    "attachment.read": "查看事项附件",
    "key_person.register": "登记重点人员（户）",
    "key_person.read": "查看重点人员（户）台账",
    "key_person.colour": "调整重点人员（户）的颜色",
    "key_person.reveal": "查看重点人员（户）的个人信息",
}


@dataclass(frozen=True)
class Actor:
    role: str
    id: str | None = None
    # A named person's centre (area code; None: the whole hub) and display name (audit only).
    centre: str | None = None
    name: str | None = None
    kind: PrincipalKind | None = None  # user | client | system (None: the hub's own work)
    grid: str | None = None  # a grid worker's grid code

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def current_actor(request: Request) -> Actor:
    principal = principal_of(request)
    if principal is None:  # the guard lets nothing through without one; never act as anyone
        raise Problem(401, "未经网关认证的内部请求", "缺少内部凭证", type_="internal-credential")
    role = principal.role.strip().lower()
    if role not in ROLES:
        raise Problem(403, "无权限", f"未知角色 {role!r}", type_="forbidden")
    centre = principal.centre or None
    if centre is not None:
        try:
            scope.level(centre)
        except scope.UnknownCentre:
            raise Problem(
                403, "无权限", f"中心编码 {centre} 不是区县、街道或社区编码", type_="forbidden"
            ) from None
    return Actor(
        role=role,
        id=principal.id or None,
        centre=centre,
        name=principal.name,
        kind=principal.kind,
        grid=principal.grid,
    )


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
