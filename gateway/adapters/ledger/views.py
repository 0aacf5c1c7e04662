"""What ops see of the ledger and the one repair they make: deliveries listed, a case's updates
across the systems that know it, failed updates put back in line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update

from gateway.adapters.ledger.recording import FINAL, TOPIC
from gateway.tables import adapter_deliveries
from hub.db import Database


def delivery_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "update_id": row.update_id,
        "case_no": row.case_no,
        "system": row.system,
        "update": row.update_name,
        "round": row.round,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "external_state": row.external_state,
        "created_at": row.created_at,
        "next_attempt_at": row.next_attempt_at if row.status in ("pending", "sending") else None,
        "finished_at": row.finished_at,
    }


async def list_deliveries(
    db: Database,
    *,
    status: str | None = None,
    system: str | None = None,
    case_no: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[dict[str, Any]]]:
    d = adapter_deliveries
    conditions = []
    if status:
        conditions.append(d.c.status == status)
    if system:
        conditions.append(d.c.system == system)
    if case_no:
        conditions.append(d.c.case_no == case_no)
    async with db.sessions() as session:
        total = (await session.execute(select(func.count()).select_from(d).where(*conditions))).scalar_one()
        rows = (
            await session.execute(select(d).where(*conditions).order_by(d.c.id).limit(limit).offset(offset))
        ).all()
    return int(total), [delivery_out(r) for r in rows]


async def case_sync(db: Database, case_no: str) -> list[dict[str, Any]]:
    """Each update of the case across every system that knows it: `sent` only when all of them got it."""
    d = adapter_deliveries
    async with db.sessions() as session:
        rows = (await session.execute(select(d).where(d.c.case_no == case_no).order_by(d.c.id))).all()
    grouped: dict[tuple[str, int], dict[str, str]] = {}
    for r in rows:
        grouped.setdefault((r.update_name, r.round), {})[r.system] = r.status
    out = []
    for (update_name, round_), systems in grouped.items():
        statuses = set(systems.values())
        overall = (
            "sent"
            if statuses <= set(FINAL)
            else "failed"
            if "failed" in statuses
            else "partly_sent"
            if statuses & set(FINAL)
            else "pending"
        )
        out.append({"update": update_name, "round": round_, "status": overall, "systems": systems})
    return out


async def retry_failed(db: Database, system: str, case_no: str | None = None) -> int:
    """Put failed updates back in line (after the system or our configuration was fixed)."""
    d = adapter_deliveries
    conditions = [d.c.status == "failed", d.c.system == system]
    if case_no:
        conditions.append(d.c.case_no == case_no)
    async with db.transaction() as session:
        result = await session.execute(
            update(d)
            .where(*conditions)
            .values(status="pending", attempts=0, next_attempt_at=datetime.now(UTC), finished_at=None)
        )
        Database.flag(session, TOPIC)
    return int(getattr(result, "rowcount", 0) or 0)
