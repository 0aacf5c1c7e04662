"""12345 back-fill and reconciliation (`hub sync backfill|reconcile hotline12345`).

**Back-fill** imports historical work orders (JSON lines in the platform's own fields, or its list
API) through the adapter path: mapping → intake (channel + source_ref, so a repeat is the same
case) → link. Each link is written *before* registering, with the state the platform already
shows, so the ledger never pushes an old work order's history back over it. Work goes in chunks;
after each chunk the cursor (gateway database) moves past it, so an interrupted run resumes there
and re-sends at most one chunk, which intake answers with the cases it already has.

**Reconciliation** compares the platform's list of work orders with our links and ledger and repairs
drift: a work order we never received is imported; a failed delivery is put back in line; an update
the platform lost is sent again (a new request id, same state); where the platform is ahead of us it
is only reported (we never move its state backwards).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.adapters.common import RANK, parse_local_time
from gateway.adapters.hotline12345 import mapping
from gateway.adapters.hotline12345.client import HotlineClient
from gateway.adapters.inbound import actor_headers, register
from gateway.adapters.ledger import FIRST_ROUND, TOPIC
from gateway.tables import adapter_cursors, adapter_deliveries, adapter_links, timeline
from gateway.upstream import Upstream
from hub import failpoints
from hub.config import Settings
from hub.db import Database
from hub.failpoints import failpoint
from hub.problems import Problem

log = logging.getLogger("hub.gateway.adapters.sync")

SYSTEM = mapping.SYSTEM
CHUNK = 500  # list-API page size
BATCH = 1000  # work orders per bulk import (intake takes up to MAX_BATCH)
MAX_BATCH = 2000
IN_FLIGHT = 3  # batches at intake at once: one written, one prepared (worker), one on its way
IMPORT_PATH = "/internal/v1/cases:import"
IMPORTED_EVENT = "case.imported"
FAILPOINT = "hotline12345.backfill.after_import_before_link"
FINISHED = (3, 4, 6)  # 已办结待回访, 已归档, 已回退: not open in the hub either
# Their status → how far along it is (重办 is handling again).
PROGRESS: dict[int, int] = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 2, 6: 4}
# Our updates that are requests rather than states: never the state to compare or to send again.
NOT_A_STATE = ("extension_requested",)


@dataclass
class BackfillReport:
    source: str
    total: int | None = None
    resumed_from: int = 0
    position: int = 0
    imported: int = 0
    existing: int = 0
    invalid: int = 0
    invalid_examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def processed(self) -> int:
        return self.imported + self.existing + self.invalid

    @property
    def rate(self) -> float:
        return self.processed / self.seconds if self.seconds else 0.0


Progress = Callable[[int, int | None], None]  # (position, total)


def _insert(db: Database) -> Any:
    return pg_insert if db.is_postgres else sqlite_insert


async def read_cursor(db: Database, name: str) -> int:
    async with db.sessions() as session:
        row = (
            await session.execute(select(adapter_cursors.c.position).where(adapter_cursors.c.name == name))
        ).first()
    return int(row.position) if row else 0


async def write_cursor(db: Database, name: str, position: int, done: bool = False) -> None:
    now = datetime.now(UTC)
    insert = _insert(db)(adapter_cursors).values(name=name, position=position, done=int(done), updated_at=now)
    async with db.transaction() as session:
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=["name"], set_={"position": position, "done": int(done), "updated_at": now}
            )
        )


async def _file_items(path: Path, start: int) -> AsyncIterator[tuple[int, Any]]:
    """(position after the item, parsed JSON or the raw text when it is not JSON); streamed."""
    with path.open("rb") as handle:
        for index, line in enumerate(handle):
            if index < start:
                continue
            text = line.strip()
            if not text:
                yield index + 1, None
                continue
            try:
                yield index + 1, orjson.loads(text)
            except orjson.JSONDecodeError:
                yield index + 1, text.decode("utf-8", "replace")


async def _simulator_items(
    client: HotlineClient, start: int, page_size: int = CHUNK
) -> AsyncIterator[tuple[int, Any]]:
    page = start // page_size + 1
    skip = start % page_size
    while True:
        total, records = await client.list_work_orders(page, page_size)
        for offset, record in enumerate(records):
            if offset < skip:
                continue
            yield (page - 1) * page_size + offset + 1, record
        skip = 0
        if not records or page * page_size >= total:
            return
        page += 1


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def _file_source(path: Path) -> tuple[str, int | None]:
    return f"backfill:{SYSTEM}:file:{path.resolve()}", count_lines(path)


async def backfill(
    settings: Settings,
    *,
    path: Path | None = None,
    from_simulator: bool = False,
    db: Database | None = None,
    in_flight: int = IN_FLIGHT,
    batch_size: int = BATCH,
    restart: bool = False,
    limit: int | None = None,
    progress: Progress | None = None,
) -> BackfillReport:
    """Import historical work orders; resumable; idempotent. Raises on an outage (resume later).

    Batches of `batch_size` go to intake's bulk import, `in_flight` at a time; each acknowledged
    batch is then linked and the cursor moved past it in one gateway transaction, strictly in file
    order, so the cursor never passes a batch that is not in both databases.
    """
    from hub.db import create_engine_for

    if (path is None) == (not from_simulator):
        raise ValueError("give either a JSON-lines file or from_simulator=True")
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch size must be 1 to {MAX_BATCH}")
    own_db = db is None
    db = db or Database(create_engine_for(settings, "gateway"))
    limits = httpx.Limits(max_connections=in_flight + 2, max_keepalive_connections=in_flight + 2)
    started = time.perf_counter()
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        if path is not None:
            source, total = await asyncio.to_thread(_file_source, path)
        else:
            if not settings.hotline12345_url:
                raise ValueError("HUB_HOTLINE12345_URL is not set: no platform to read from")
            client = _client(http, settings)
            source = f"backfill:{SYSTEM}:api:{settings.hotline12345_url}"
            listed, _ = await client.list_work_orders(1, 1)
            total = listed
        if settings.failpoints:  # test-only crash points (left alone otherwise: in-process hubs share them)
            failpoints.configure(settings.failpoints, settings.data_dir / "failpoints" / "backfill")
        if restart:
            await write_cursor(db, source, 0)
        start = await read_cursor(db, source)
        report = BackfillReport(source=source, total=total, resumed_from=start, position=start)
        items = _file_items(path, start) if path is not None else _simulator_items(client, start)
        url = settings.url_of("intake") + IMPORT_PATH
        pending: deque[tuple[_Batch, asyncio.Task[list[dict[str, Any]]]]] = deque()

        settled = 0

        async def settle_oldest() -> None:
            nonlocal settled
            batch, task = pending.popleft()
            answers = await task
            if settled:  # a crash with one batch behind us, the next one at intake but not linked
                failpoint(FAILPOINT)
            await _settle(db, batch, answers, report, source)
            settled += 1
            if progress:
                progress(report.position, total)

        try:
            chunk: list[tuple[int, Any]] = []
            taken = 0
            async for position, raw in items:
                chunk.append((position, raw))
                taken += 1
                full = len(chunk) >= batch_size
                stop = limit is not None and taken >= limit
                if full or stop:
                    batch = _prepare(chunk, report)
                    pending.append((batch, asyncio.create_task(_post(http, url, batch))))
                    chunk = []
                    while len(pending) >= in_flight:
                        await settle_oldest()
                if stop:
                    break
            if chunk:
                batch = _prepare(chunk, report)
                pending.append((batch, asyncio.create_task(_post(http, url, batch))))
            while pending:
                await settle_oldest()
            finished = total is not None and report.position >= total
            await write_cursor(db, source, report.position, done=finished)
        finally:
            for _, task in pending:
                task.cancel()
            await asyncio.gather(*(task for _, task in pending), return_exceptions=True)
            report.seconds = time.perf_counter() - started
            if own_db:
                await db.dispose()
    return report


def _client(http: httpx.AsyncClient, settings: Settings) -> HotlineClient:
    return HotlineClient(
        http,
        settings.hotline12345_url or "",
        settings.hotline12345_app_key,
        settings.hotline12345_app_secret,
        settings.adapter_timeout_s,
    )


@dataclass
class _Batch:
    position: int  # the cursor after this batch
    orders: list[mapping.WorkOrder]
    body: bytes


def _history_item(order: mapping.WorkOrder) -> dict[str, Any]:
    """Intake's import item: the case as a push would register it, plus when and how it stands there."""
    return {
        "case": mapping.to_case(order),
        "registered_at": parse_local_time(order.createTime).isoformat(),
        "status": "closed" if order.status in FINISHED else "registered",
    }


def _prepare(chunk: list[tuple[int, Any]], report: BackfillReport) -> _Batch:
    orders: list[mapping.WorkOrder] = []
    seen: set[str] = set()
    for position, raw in chunk:
        if raw is None:
            continue  # a blank line
        try:
            order = mapping.WorkOrder.model_validate(raw)
        except ValidationError as exc:
            report.invalid += 1
            if len(report.invalid_examples) < 10:
                fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
                report.invalid_examples.append(f"line/record {position}: {fields}")
            continue
        if order.orderNo in seen:
            report.existing += 1  # repeated inside the batch: one case
            continue
        seen.add(order.orderNo)
        orders.append(order)
    body = orjson.dumps({"items": [_history_item(order) for order in orders]}) if orders else b""
    return _Batch(chunk[-1][0], orders, body)


async def _post(http: httpx.AsyncClient, url: str, batch: _Batch) -> list[dict[str, Any]]:
    """Intake's answer per item; retried while intake is away (the batch is idempotent)."""
    if not batch.orders:
        return []
    headers = {**actor_headers(SYSTEM), "Content-Type": "application/json"}
    delay = 0.5
    for attempt in range(8):
        try:
            response = await http.post(url, content=batch.body, headers=headers, timeout=300)
        except httpx.HTTPError as exc:
            if attempt == 7:
                raise Problem(
                    503,
                    "服务暂不可用",
                    f"intake 服务暂时无法访问（{type(exc).__name__}），请稍后重试",
                    type_="service-unavailable",
                ) from None
        else:
            if response.status_code == 200:
                items: list[dict[str, Any]] = orjson.loads(response.content)["items"]
                return items
            if response.status_code < 500 or attempt == 7:
                raise Problem(
                    response.status_code if response.status_code >= 400 else 502,
                    "批量导入失败",
                    f"intake answered {response.status_code}: {response.text[:300]}",
                    type_="import-refused",
                )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10)
    raise AssertionError("unreachable")


async def _settle(
    db: Database, batch: _Batch, answers: list[dict[str, Any]], report: BackfillReport, source: str
) -> None:
    """Count intake's answers; link, note 'imported' on each imported case's timeline and move the
    cursor past the batch, all in one gateway transaction."""
    pairs: list[tuple[mapping.WorkOrder, str]] = []
    for order, answer in zip(batch.orders, answers, strict=True):
        case_no = answer.get("case_no")
        if not case_no:
            report.invalid += 1
            if len(report.invalid_examples) < 10:
                fields = ", ".join(
                    mapping.REVERSE_FIELDS.get(str(e.get("field")), str(e.get("field")))
                    for e in answer.get("errors") or []
                )
                report.invalid_examples.append(f"{order.orderNo}: refused by intake ({fields})")
            continue
        if answer.get("created"):
            report.imported += 1
        else:
            report.existing += 1
        pairs.append((order, str(case_no)))
    async with db.transaction() as session:
        if pairs:
            await _link_imported(db, session, pairs)
        now = datetime.now(UTC)
        await session.execute(
            _insert(db)(adapter_cursors)
            .values(name=source, position=batch.position, done=0, updated_at=now)
            .on_conflict_do_update(
                index_elements=["name"], set_={"position": batch.position, "updated_at": now}
            )
        )
    report.position = batch.position


def _state(code: str | None) -> int:
    return int(code) if code and code.lstrip("-").isdigit() else -1


async def _link_imported(db: Database, session: Any, pairs: list[tuple[mapping.WorkOrder, str]]) -> None:
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
    insert = _insert(db)(adapter_links)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["system", "external_ref"],
            set_={"case_no": func.coalesce(adapter_links.c.case_no, insert.excluded.case_no)},
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
        await session.execute(
            _insert(db)(timeline).on_conflict_do_nothing(index_elements=["event_id"]), entries
        )


# Reconciliation registers a missed work order as a live one (the ledger takes it from there):
# linked before registering, with the state the platform shows, so nothing older is pushed over it.


async def _link_before(db: Database, orders: list[mapping.WorkOrder]) -> None:
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
        await session.execute(
            _insert(db)(adapter_links)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["system", "external_ref"])
        )


async def _link_after(db: Database, pairs: list[tuple[str, str]]) -> None:
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


# --- Reconciliation ------------------------------------------------------------------------------


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
    settings: Settings, *, db: Database | None = None, repair: bool = True, page_size: int = 500
) -> ReconcileReport:
    from hub.db import create_engine_for

    if not settings.hotline12345_url:
        raise ValueError("HUB_HOTLINE12345_URL is not set: no platform to reconcile with")
    own_db = db is None
    db = db or Database(create_engine_for(settings, "gateway"))
    report = ReconcileReport()
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            client = _client(http, settings)
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
            upstream = Upstream(http, {"intake": settings.url_of("intake")})
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
        await _link_before(db, [order])
        registered = await register(
            upstream, SYSTEM, ref, mapping.to_case(order), reverse_fields=mapping.REVERSE_FIELDS
        )
        await _link_after(db, [(ref, registered.case_no)])
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
            _insert(db)(adapter_deliveries).values(
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
