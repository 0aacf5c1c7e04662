"""What the 12345 sync remembers in the gateway's database: cursors (where an interrupted back-fill
resumes) and the links of work orders to cases, written *before* a case is registered, with the
state the platform already shows, so the ledger never pushes an old work order's history back over it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update

from gateway.adapters.hotline12345 import mapping
from gateway.adapters.ledger import FIRST_ROUND
from gateway.tables import adapter_cursors, adapter_links, timeline
from hub.db import Database
from hub.upsert import upsert

SYSTEM = mapping.SYSTEM
IMPORTED_EVENT = "case.imported"
FINISHED = (3, 4, 6)  # 已办结待回访, 已归档, 已回退: not open in the hub either


async def read_cursor(db: Database, name: str) -> int:
    async with db.sessions() as session:
        row = (
            await session.execute(select(adapter_cursors.c.position).where(adapter_cursors.c.name == name))
        ).first()
    return int(row.position) if row else 0


async def write_cursor(db: Database, name: str, position: int, done: bool = False) -> None:
    now = datetime.now(UTC)
    values = {"name": name, "position": position, "done": int(done), "updated_at": now}
    async with db.transaction() as session:
        await session.execute(
            upsert(
                session,
                adapter_cursors,
                ["name"],
                values,
                update={"position": position, "done": int(done), "updated_at": now},
            )
        )


def _state(code: str | None) -> int:
    return int(code) if code and code.lstrip("-").isdigit() else -1


async def link_imported(session: Any, pairs: list[tuple[mapping.WorkOrder, str]]) -> None:
    """Links for the batch (a work order linked before, e.g. by a push, keeps its link and state);
    a timeline entry "case.imported" for each case the back-fill brought in (once per case)."""
    now = datetime.now(UTC)
    rows = [
        {
            "system": SYSTEM,
            "external_ref": order.orderNo,
            "case_no": case_no,
            "origin": "backfill",
            "delivered_round": FIRST_ROUND,
            "delivered_rank": mapping.baseline_rank(order),
            "delivered_update": "history",
            "external_state": str(order.status),
            "created_at": now,
            "updated_at": now,
        }
        for order, case_no in pairs
    ]
    # executemany of one cached statement (a 1,000-row VALUES list would be compiled afresh each time)
    await session.execute(
        upsert(
            session,
            adapter_links,
            ["system", "external_ref"],
            update=lambda new: {"case_no": func.coalesce(adapter_links.c.case_no, new.case_no)},
        ),
        rows,
    )
    refs = [order.orderNo for order, _ in pairs]
    linked = await session.execute(
        select(adapter_links.c.case_no, adapter_links.c.external_state).where(
            adapter_links.c.system == SYSTEM,
            adapter_links.c.external_ref.in_(refs),
            adapter_links.c.origin == "backfill",
        )
    )
    entries = [
        {
            "event_id": f"imported:{row.case_no}",
            "case_no": row.case_no,
            "at": now,
            "service": "gateway",
            "event": IMPORTED_EVENT,
            "actor": {"service": "gateway", "role": "adapter", "id": SYSTEM},
            "detail": {
                "channel": mapping.CHANNEL,
                "status": "closed" if _state(row.external_state) in FINISHED else "registered",
                "source_status": mapping.STATUS.get(_state(row.external_state), row.external_state),
                "reason": "back-fill: history, not dispatched, nothing sent",
            },
            "trace_id": None,
            "span_id": None,
        }
        for row in linked
        if row.case_no
    ]
    if entries:
        await session.execute(upsert(session, timeline, ["event_id"]), entries)


# Reconciliation registers a missed work order as a live one (the ledger takes it from there):
# linked before registering, with the state the platform shows, so nothing older is pushed over it.


async def link_before(db: Database, orders: list[mapping.WorkOrder]) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "system": SYSTEM,
            "external_ref": order.orderNo,
            "case_no": None,
            "origin": "backfill",
            "delivered_round": FIRST_ROUND,
            "delivered_rank": mapping.baseline_rank(order),
            "delivered_update": "history",
            "external_state": str(order.status),
            "created_at": now,
            "updated_at": now,
        }
        for order in orders
    ]
    async with db.transaction() as session:
        await session.execute(upsert(session, adapter_links, ["system", "external_ref"]).values(rows))


async def link_after(db: Database, pairs: list[tuple[str, str]]) -> None:
    if not pairs:
        return
    async with db.transaction() as session:
        for ref, case_no in pairs:
            await session.execute(
                update(adapter_links)
                .where(
                    adapter_links.c.system == SYSTEM,
                    adapter_links.c.external_ref == ref,
                    adapter_links.c.case_no.is_(None),
                )
                .values(case_no=case_no)
            )
