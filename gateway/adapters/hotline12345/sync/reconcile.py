"""12345 reconciliation (`hub sync reconcile hotline12345`): the platform's list of work orders against
our links and ledger, drift repaired: a work order we never received is imported; a failed delivery
is put back in line; an update the platform lost is sent again (a new request id, same state); where
the platform is ahead of us it is only reported (we never move its state backwards)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import ValidationError
from sqlalchemy import select, update

from gateway.adapters.common import RANK
from gateway.adapters.hotline12345 import mapping
from gateway.adapters.hotline12345.client import make_client
from gateway.adapters.hotline12345.sync.links import link_after, link_before
from gateway.adapters.inbound import register
from gateway.adapters.ledger import TOPIC
from gateway.settings import GatewaySettings
from gateway.tables import adapter_deliveries, adapter_links
from gateway.upstream import Upstream
from hub.credentials import CredentialMinter
from hub.db import Database

SYSTEM = mapping.SYSTEM
# Their status → how far along it is (重办 is handling again).
PROGRESS: dict[int, int] = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 2, 6: 4}
# Our updates that are requests rather than states: never the state to compare or to send again.
NOT_A_STATE = ("extension_requested",)


@dataclass
class Change:
    ref: str
    case_no: str | None
    action: str  # imported | retried | resent | reported
    detail: str


@dataclass
class ReconcileReport:
    theirs: int = 0
    ours: int = 0
    in_sync: int = 0
    in_flight: int = 0
    changes: list[Change] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)


async def reconcile(
    settings: GatewaySettings, *, db: Database | None = None, repair: bool = True, page_size: int = 500
) -> ReconcileReport:
    from hub.db import create_engine_for

    if not settings.hotline12345_url:
        raise ValueError("HUB_HOTLINE12345_URL is not set: no platform to reconcile with")
    own_db = db is None
    db = db or Database(create_engine_for(settings, "gateway"))
    report = ReconcileReport()
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            client = make_client(http, settings)
            theirs: dict[str, dict[str, Any]] = {}
            page = 1
            while True:
                total, records = await client.list_work_orders(page, page_size)
                theirs.update({str(r["orderNo"]): r for r in records})
                if not records or page * page_size >= total:
                    break
                page += 1
            report.theirs = len(theirs)
            links, rows = await _our_side(db)
            report.ours = len(links)
            # An operator's command, pointed at intake by URL from any directory: it names no instance (decision 0015).
            minter = CredentialMinter(settings.internal_signing_key)
            upstream = Upstream(http, {"intake": settings.url_of("intake")}, minter)
            for ref, record in theirs.items():
                await _reconcile_one(db, upstream, report, ref, record, links.get(ref), rows, repair)
            for ref, link in links.items():
                if ref not in theirs:
                    report.changes.append(
                        Change(ref, link.case_no, "reported", "the platform does not list this work order")
                    )
    finally:
        if own_db:
            await db.dispose()
    return report


async def _our_side(db: Database) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    async with db.sessions() as session:
        links = {
            r.external_ref: r
            for r in await session.execute(
                select(adapter_links).where(
                    adapter_links.c.system == SYSTEM, adapter_links.c.external_ref.is_not(None)
                )
            )
        }
        rows: dict[str, list[Any]] = {}
        for r in await session.execute(
            select(adapter_deliveries)
            .where(adapter_deliveries.c.system == SYSTEM)
            .order_by(adapter_deliveries.c.id)
        ):
            rows.setdefault(r.case_no, []).append(r)
    return links, rows


async def _reconcile_one(
    db: Database,
    upstream: Upstream,
    report: ReconcileReport,
    ref: str,
    record: dict[str, Any],
    link: Any,
    rows: dict[str, list[Any]],
    repair: bool,
) -> None:
    if link is None or link.case_no is None:
        try:
            order = mapping.WorkOrder.model_validate(record)
        except ValidationError:
            report.changes.append(Change(ref, None, "reported", "not received and not importable (invalid)"))
            return
        if not repair:
            report.changes.append(Change(ref, None, "reported", "never received by the hub"))
            return
        await link_before(db, [order])
        registered = await register(
            upstream, SYSTEM, ref, mapping.to_case(order), reverse_fields=mapping.REVERSE_FIELDS
        )
        await link_after(db, [(ref, registered.case_no)])
        report.changes.append(
            Change(ref, registered.case_no, "imported", f"registered as {registered.case_no}")
        )
        return
    case_rows = [r for r in rows.get(link.case_no, []) if r.status != "skipped"]
    if not case_rows:
        report.in_sync += 1
        return
    states = [r for r in case_rows if r.update_name not in NOT_A_STATE]
    if not states:
        report.in_sync += 1
        return
    latest = max(states, key=lambda r: (r.round, r.rank, r.id))
    expected = int(mapping.OUTBOUND[latest.update_name].state)
    status = int(record.get("status", 0))
    if status == expected:
        report.in_sync += 1
        return
    # Reopened (重办) in our latest round while the platform still shows the previous round's end.
    reopened = any(r.update_name == "reopened" and r.round == latest.round for r in case_rows)
    behind = PROGRESS.get(status, 0) < PROGRESS[expected] or (
        reopened and status in (3, 4) and expected not in (3, 4)
    )
    if not behind:
        report.changes.append(
            Change(
                ref,
                link.case_no,
                "reported",
                f"the platform is ahead: status {status}, ours {latest.update_name}",
            )
        )
        return
    failed = [r for r in case_rows if r.status == "failed"]
    open_rows = [r for r in case_rows if r.status in ("pending", "sending")]
    if failed:
        if repair:
            await _retry_rows(db, [r.id for r in failed])
        report.changes.append(
            Change(ref, link.case_no, "retried", ", ".join(f"{r.update_name} (failed)" for r in failed))
        )
    elif open_rows:
        report.in_flight += 1
    else:
        if repair:
            await _resend(db, latest)
        report.changes.append(
            Change(
                ref,
                link.case_no,
                "resent",
                f"{latest.update_name}: platform shows {status}, expected {expected}",
            )
        )


async def _retry_rows(db: Database, ids: list[int]) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(adapter_deliveries)
            .where(adapter_deliveries.c.id.in_(ids))
            .values(status="pending", attempts=0, next_attempt_at=datetime.now(UTC), finished_at=None)
        )
        Database.flag(session, TOPIC)


async def _resend(db: Database, latest: Any) -> None:
    """The same state again under a new request id (the platform lost the first one)."""
    import uuid

    now = datetime.now(UTC)
    async with db.transaction() as session:
        await session.execute(
            adapter_deliveries.insert().values(
                update_id=str(uuid.uuid4()),
                case_no=latest.case_no,
                system=SYSTEM,
                update_name=latest.update_name,
                update_key=f"{latest.update_name}@{latest.round}#resync@{now.isoformat()}",
                round=latest.round,
                rank=RANK[latest.update_name],
                data=latest.data,
                event_id=None,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                traceparent=latest.traceparent,
                created_at=now,
            )
        )
        Database.flag(session, TOPIC)
