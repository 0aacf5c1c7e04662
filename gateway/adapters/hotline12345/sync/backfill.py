"""12345 back-fill (`hub sync backfill hotline12345`): historical work orders (JSON lines in the
platform's own fields, or its list API) imported through the adapter path: mapping → intake's bulk
import (channel + source_ref, so a repeat is the same case) → link. Work goes in chunks; after each
chunk the cursor moves past it, so an interrupted run resumes there and re-sends at most one chunk,
which intake answers with the cases it already has."""

from __future__ import annotations

import asyncio
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

from gateway.adapters.common import parse_local_time
from gateway.adapters.hotline12345 import mapping
from gateway.adapters.hotline12345.client import HotlineClient, make_client
from gateway.adapters.hotline12345.sync.links import link_imported, read_cursor, write_cursor
from gateway.principals import adapter
from gateway.settings import GatewaySettings
from gateway.tables import adapter_cursors, adapter_links, timeline
from hub import failpoints
from hub.credentials import CredentialMinter
from hub.db import Database
from hub.failpoints import failpoint
from hub.planner_statistics import GrowthAnalyzer
from hub.problems import Problem
from hub.upsert import upsert

SYSTEM = mapping.SYSTEM
CHUNK = 500  # list-API page size
BATCH = 1000  # work orders per bulk import (intake takes up to MAX_BATCH)
MAX_BATCH = 2000
IN_FLIGHT = 3  # batches at intake at once: one written, one prepared (worker), one on its way
IMPORT_PATH = "/internal/v1/cases:import"
FAILPOINT = "hotline12345.backfill.after_import_before_link"
FINISHED = (3, 4, 6)  # 已办结待回访, 已归档, 已回退: not open in the hub either


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
    settings: GatewaySettings,
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
            client = make_client(http, settings)
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
        # An operator's command, pointed at intake by URL from any directory: it names no instance (decision 0015).
        minter = CredentialMinter(settings.internal_signing_key)
        pending: deque[tuple[_Batch, asyncio.Task[list[dict[str, Any]]]]] = deque()
        statistics = GrowthAnalyzer(db, (adapter_links, timeline))  # links are looked up by ref per batch

        settled = 0

        async def settle_oldest() -> None:
            nonlocal settled
            batch, task = pending.popleft()
            answers = await task
            if settled:  # a crash with one batch behind us, the next one at intake but not linked
                failpoint(FAILPOINT)
            await _settle(db, batch, answers, report, source)
            await statistics.loaded(len(answers))
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
                    pending.append((batch, asyncio.create_task(_post(http, url, batch, minter))))
                    chunk = []
                    while len(pending) >= in_flight:
                        await settle_oldest()
                if stop:
                    break
            if chunk:
                batch = _prepare(chunk, report)
                pending.append((batch, asyncio.create_task(_post(http, url, batch, minter))))
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


async def _post(
    http: httpx.AsyncClient, url: str, batch: _Batch, minter: CredentialMinter
) -> list[dict[str, Any]]:
    """Intake's answer per item; retried while intake is away (the batch is idempotent)."""
    if not batch.orders:
        return []
    delay = 0.5
    for attempt in range(8):
        # As the 12345 adapter, with a credential minted per attempt (it lives a minute).
        headers = {**minter.headers(adapter(SYSTEM), "intake"), "Content-Type": "application/json"}
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
            await link_imported(session, pairs)
        now = datetime.now(UTC)
        await session.execute(
            upsert(
                session,
                adapter_cursors,
                ["name"],
                {"name": source, "position": batch.position, "done": 0, "updated_at": now},
                update={"position": batch.position, "updated_at": now},
            )
        )
    report.position = batch.position
