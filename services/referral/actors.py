"""Who is acting: a role, for a department its unit code, the person's user id or the API client's id,
whether it is a person, a client or a system, and a person's display name (for the audit trail only:
never in logs, spans, metric labels or events). The HTTP edge builds it from the gateway's internal
credential (:func:`services.referral.edge.actor_from_credential`); consumers and the watchdog act as
`SYSTEM` or an adapter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.credentials import PrincipalKind
from services.referral.errors import Forbidden

ROLES = ("centre", "department", "adapter", "ops", "system", "supervisor", "grid_worker")


@dataclass(frozen=True)
class Actor:
    role: str
    department: str | None = None
    id: str | None = None  # the authenticated API client or person (user id)
    # A named person's centre (area code; None: the whole hub) and display name (audit only).
    centre: str | None = None
    name: str | None = None
    kind: PrincipalKind | None = None  # user | client | system (None: the hub's own work)
    grid: str | None = None  # a grid worker's grid code (网格)

    @property
    def is_department(self) -> bool:
        return self.role == "department"

    def fields(self) -> dict[str, Any]:
        return {"actor_role": self.role, "actor_department": self.department}

    def require(self, *roles: str) -> None:
        # A supervisor (督办) may do whatever the centre may.
        if self.role not in roles and not (self.role == "supervisor" and "centre" in roles):
            raise Forbidden("无权执行该操作", f"角色 {self.role} 不能执行此操作（需要: {', '.join(roles)}）")


SYSTEM = Actor("system", kind="system")
