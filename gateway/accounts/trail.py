"""Account events in the gateway's hash-chained audit log (hub/audit.py, `hub audit verify`): who
signed in, failed, was locked out, signed out, had a refresh token reused, and every `hub users`
change. 等保 2.0 asks for exactly these (登录成功/失败, 账号管理). An entry names the user by id and carries
codes only (role, centre, reason, the client address): never a name, username or password. Each entry
is written in the transaction of the change it records, last (as `hub.audit.append` requires)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.tables import audit_log
from hub import audit

CLI_ACTOR = ("system", "hub users")


async def record(
    session: AsyncSession,
    key: str | None,
    action: str,
    *,
    actor: tuple[str, str | None],
    **detail: Any,
) -> None:
    """Append one entry; `key` None (a store used without settings, as some tests do) writes nothing."""
    if key is None:
        return
    role, actor_id = actor
    await audit.append(
        session,
        audit_log,
        key=key,
        actor_role=role,
        actor_id=actor_id,
        action=action,
        case_no=None,
        detail={k: v for k, v in detail.items() if v is not None},
    )
