"""Intake's audit entries: every change to a case, every read of personal data, every rules reload."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub import audit
from hub.runtime import ServiceRuntime
from services.intake.actors import Actor
from services.intake.tables import audit_log


async def record(
    rt: ServiceRuntime,
    session: AsyncSession,
    actor: Actor,
    action: str,
    case_no: str | None,
    detail: dict[str, Any],
) -> None:
    """Append to intake's audit log inside the current transaction (call it last), naming who acted:
    the person (user id and display name), the API client or the system."""
    await audit.append(
        session,
        audit_log,
        key=rt.settings.hash_key,
        actor_role=actor.role,
        actor_id=actor.id,
        actor_kind=actor.kind,
        actor_name=actor.name,
        action=action,
        case_no=case_no,
        detail=detail,
    )
