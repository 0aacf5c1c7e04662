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
    """Append to intake's audit log inside the current transaction (call it last). A named person is
    named in the entry: `actor_id` is their user id, `detail.person` their display name and centre."""
    if actor.name or actor.centre:
        detail = {**detail, "person": {"id": actor.id, "name": actor.name, "centre": actor.centre}}
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
