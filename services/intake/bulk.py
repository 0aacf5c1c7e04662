"""Importing historical cases in bulk (`POST /internal/v1/cases:import`, the 12345 back-fill).

A batch (up to MAX_BATCH) of cases, each with its channel + source_ref, the time it was registered
where it came from and the state it has there, is registered in ONE transaction: the (channel,
source_ref) pairs already known are answered with their case numbers, the rest get case numbers in
a block (one counter update per business day of the batch) and go in as multi-row inserts; a race
with another writer is absorbed by ON CONFLICT DO NOTHING. Re-sending a batch is therefore
harmless: every item comes back with its case number and `created: false`. Validation,
classification, grading and encryption (~0.3 ms a case, mostly jieba and phone parsing) run before
the transaction in one worker process (spawned on first use, ended with intake), so a back-fill puts
a second core to work while intake's own process reads, numbers and inserts.

History is not live work (docs/decisions/0004-backfill.md):
- personal data is encrypted and hashed exactly as registration does; the case is classified and
  graded (the colour is what the rules say), with no repeat count and no duplicate-suspect link;
- the case keeps the time and the state it has at the source (`registered_at` = when the source
  registered it; `closed` when the source finished it, else `registered`);
- no case.registered.v1 (nor any other event) is written: referral never dispatches it,
  notification never texts the reporter and the gateway's ledger never pushes anything back;
- one audit entry per batch (`cases.imported`: the case numbers it created and a digest of the
  (case number, source_ref) pairs), so `hub audit verify` still covers every case's creation.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import multiprocessing
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.config import Settings
from hub.planner_statistics import GrowthAnalyzer
from hub.problems import Problem, validation_errors
from hub.runtime import ServiceRuntime
from hub.tracing import current_ids
from hub.upsert import upsert
from services.intake.actors import Actor, CurrentActor, require
from services.intake.assessment import Assessor
from services.intake.audit_trail import record
from services.intake.case_columns import case_columns, phone_hash_of, seal_reporter
from services.intake.domain.model import CaseIn
from services.intake.numbering import business_day, format_case_no
from services.intake.rulebook import load_assessor
from services.intake.settings import IntakeSettings
from services.intake.tables import case_counters, cases

log = logging.getLogger("hub.intake.bulk")
router = APIRouter(prefix="/internal/v1", tags=["intake"])

MAX_BATCH = 2000
AUDIT_ACTION = "cases.imported"
# States a historical case may keep: still open at the source, or finished there.
HistoryStatus = Literal["registered", "closed"]


class ImportItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    case: CaseIn
    registered_at: AwareDatetime  # when the source registered it
    status: HistoryStatus = "closed"


@dataclass(frozen=True)
class Outcome:
    index: int
    source_ref: str | None
    case_no: str | None = None
    created: bool = False
    errors: list[dict[str, Any]] | None = None

    def out(self) -> dict[str, Any]:
        if self.errors is not None:
            return {"source_ref": self.source_ref, "errors": self.errors}
        return {"source_ref": self.source_ref, "case_no": self.case_no, "created": self.created}


def parse_items(raw: list[tuple[int, Any]]) -> tuple[list[tuple[int, ImportItem]], list[Outcome]]:
    """Each item (index in the batch, data) validated on its own: one bad work order never sinks
    its batch."""
    good: list[tuple[int, ImportItem]] = []
    bad: list[Outcome] = []
    seen: set[tuple[str, str]] = set()
    for index, data in raw:
        ref = _ref_of(data)
        try:
            item = ImportItem.model_validate(data)
        except ValidationError as exc:
            errors = [
                {**e, "field": e["field"].removeprefix("case.")} for e in validation_errors(exc.errors())
            ]
            bad.append(Outcome(index, ref, errors=errors))
            continue
        if not item.case.source_ref:
            bad.append(
                Outcome(index, None, errors=[{"field": "source_ref", "message": "required for an import"}])
            )
            continue
        key = (item.case.channel.value, item.case.source_ref)
        if key in seen:
            bad.append(
                Outcome(index, ref, errors=[{"field": "source_ref", "message": "repeated in this batch"}])
            )
            continue
        seen.add(key)
        good.append((index, item))
    return good, bad


def _key_of(data: Any) -> tuple[str, str] | None:
    case = data.get("case") if isinstance(data, dict) else None
    if not isinstance(case, dict):
        return None
    channel, ref = case.get("channel"), case.get("source_ref")
    return (channel, ref) if isinstance(channel, str) and isinstance(ref, str) else None


def _ref_of(data: Any) -> str | None:
    case = data.get("case") if isinstance(data, dict) else None
    ref = case.get("source_ref") if isinstance(case, dict) else None
    return ref if isinstance(ref, str) else None


Prepared = tuple[list[tuple[int, dict[str, Any]]], list[Outcome]]


def prepare(settings: Any, assessor: Assessor, raw: list[tuple[int, Any]]) -> Prepared:
    """Validate, classify and grade: the rows to insert (unnumbered; personal data is encrypted once
    the row has its case number, which the associated data binds) and the refusals."""
    good, bad = parse_items(raw)
    return [(index, _row(settings, assessor, item)) for index, item in good], bad


async def import_batch(
    rt: ServiceRuntime[IntakeSettings], preparer: Preparer, assessor: Assessor, raw: list[Any], actor: Actor
) -> list[Outcome]:
    """Register a batch; every item answered (case number + created, or its errors)."""
    keyed = [(index, data, _key_of(data)) for index, data in enumerate(raw)]
    async with rt.db.sessions() as session:
        seen = await _known(session, [k for _, _, k in keyed if k is not None])
    # Items already here (a re-sent batch) cost one read; the rest are prepared outside the
    # transaction, so the write lock is held only for the reads and the inserts.
    todo = [(index, data) for index, data, key in keyed if key is None or key not in seen]
    prepared, bad = await preparer.run(rt, assessor, todo) if todo else ([], [])
    trace_id, _ = current_ids()
    for _, row in prepared:
        row["trace_id"] = trace_id
    items: list[tuple[int, tuple[str, str]]] = [
        (index, key) for index, _, key in keyed if key is not None and key in seen
    ]
    items += [(index, (row["channel"], row["source_ref"])) for index, row in prepared]
    keys = [key for _, key in items]
    async with rt.db.transaction() as session:
        known = await _known(session, keys)
        rows = [row for _, row in prepared if (row["channel"], row["source_ref"]) not in known]
        await _number(session, rows)
        for row in rows:
            seal_reporter(row, rt.cipher)
        if rows:
            await session.execute(upsert(session, cases, ["channel", "source_ref"]), rows)
        # What is there now (ours, or another writer's that won a race) decides `created`.
        now_known = await _known(session, [k for k in keys if k not in known])
        planned = {(r["channel"], r["source_ref"]): r["case_no"] for r in rows}
        outcomes: list[Outcome] = list(bad)
        created: list[tuple[str, str]] = []
        for index, key in items:
            case_no = known.get(key) or now_known[key]
            is_new = key not in known and planned.get(key) == case_no
            if is_new:
                created.append((case_no, key[1]))
            outcomes.append(Outcome(index, key[1], case_no, is_new))
        if created:
            digest = hashlib.sha256("\n".join(f"{c}={r}" for c, r in created).encode()).hexdigest()
            await record(
                rt,
                session,
                actor,
                AUDIT_ACTION,
                None,
                {
                    "channels": sorted({k[0] for k in keys}),
                    "count": len(created),
                    "existing": len(items) - len(created),
                    "case_nos": [c for c, _ in created],
                    "pairs_sha256": digest,
                },
            )
    return sorted(outcomes, key=lambda o: o.index)


# --- preparing in a worker process ---------------------------------------------------------------
# Validation, classification (jieba) and grading are CPU work of ~0.3 ms a case: a worker process
# does it for a batch while intake's own process reads, numbers and inserts the previous one, so a
# back-fill uses a second core. The worker loads the same rule files; a rules reload starts a new one.

_worker: tuple[Any, Assessor] | None = None


def _start_worker(settings: IntakeSettings) -> None:
    global _worker
    assessor, _ = load_assessor(settings.intake_rules_dir)
    assessor.warm()
    _worker = (settings, assessor)


def _prepare_in_worker(raw: list[tuple[int, Any]]) -> Prepared:
    if _worker is None:
        raise RuntimeError("import worker not started")
    return prepare(*_worker, raw)


class Preparer:
    """Runs `prepare` in one worker process (spawned on first use), else in a thread."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._assessor: Assessor | None = None

    async def run(
        self, rt: ServiceRuntime[IntakeSettings], assessor: Assessor, raw: list[tuple[int, Any]]
    ) -> Prepared:
        if self.workers < 1:
            return await asyncio.to_thread(prepare, rt.settings, assessor, raw)
        if self._pool is None or self._assessor is not assessor:  # first use, or rules reloaded
            await self.stop()
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(rt.settings,),
            )
            self._assessor = assessor
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, _prepare_in_worker, raw)
        except BrokenProcessPool:
            # The worker died or could not start: log it, and from now on prepare in a thread.
            log.exception("bulk import: the worker process failed; preparing in a thread from now on")
            await self.stop()
            self.workers = 0
            return await asyncio.to_thread(prepare, rt.settings, assessor, raw)

    async def stop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)


async def _known(
    session: AsyncSession, keys: Sequence[tuple[str, str | None]]
) -> dict[tuple[str, str | None], str]:
    if not keys:
        return {}
    by_channel: dict[str, list[str]] = defaultdict(list)
    for channel, ref in keys:
        if ref is not None:
            by_channel[channel].append(ref)
    found: dict[tuple[str, str | None], str] = {}
    for channel, refs in by_channel.items():
        result = await session.execute(
            select(cases.c.source_ref, cases.c.case_no).where(
                and_(cases.c.channel == channel, cases.c.source_ref.in_(refs))
            )
        )
        found.update({(channel, r.source_ref): r.case_no for r in result})
    return found


async def _number(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Case numbers in a block per business day: one counter update (last += n) for each day."""
    by_day: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_day[business_day(row["registered_at"])].append(row)
    for day in sorted(by_day):
        day_rows = by_day[day]
        n = len(day_rows)
        stmt = upsert(
            session,
            case_counters,
            ["day"],
            {"day": day, "last": n},
            update={"last": case_counters.c.last + n},
        ).returning(case_counters.c.last)
        last = (await session.execute(stmt)).scalar_one()
        for offset, row in enumerate(day_rows):
            row["case_no"] = format_case_no(day, last - n + 1 + offset)


def _row(settings: Settings, assessor: Assessor, item: ImportItem) -> dict[str, Any]:
    case_in = item.case
    category, words = (
        (case_in.category.value, [])
        if case_in.category
        else assessor.classify(case_in.title, case_in.description)
    )
    assessment = assessor.grade(case_in, category, 0)
    return {
        "case_no": None,  # numbered in a block
        "idempotency_key": None,
        **case_columns(
            case_in,
            category=category,
            words=words,
            hash_key=settings.hash_key,
            phone_hash=phone_hash_of(settings.hash_key, case_in),
            address_key=assessor.address_key(case_in.location.address),
        ),
        "colour": assessment.colour,
        "colour_reasons": assessment.reasons,
        "colour_overridden": False,
        "response_level": assessment.response_level,
        "repeat_count_30d": 0,
        "duplicate_of": None,
        "status": item.status,
        "trace_id": None,  # the request's, set by intake's own process
        "registered_at": item.registered_at.astimezone(UTC),
    }


def preparer_of(app: FastAPI) -> Preparer:
    preparer: Preparer | None = getattr(app.state, "import_preparer", None)
    if preparer is None:  # an app built without main.bootstrap
        preparer = app.state.import_preparer = Preparer(0)
    return preparer


def statistics_of(app: FastAPI, rt: ServiceRuntime[IntakeSettings]) -> GrowthAnalyzer:
    analyzer: GrowthAnalyzer | None = getattr(app.state, "import_statistics", None)
    if analyzer is None:  # the cases table's, kept for the process: imports are looked up by ref
        analyzer = app.state.import_statistics = GrowthAnalyzer(rt.db, (cases,))
    return analyzer


class ImportIn(BaseModel):
    """Documentation of the body (parsed by hand: items are validated one by one)."""

    items: list[dict[str, Any]] = Field(max_length=MAX_BATCH)


@router.post(
    "/cases:import",
    summary="Import a batch of historical cases (idempotent on channel + source_ref; no events)",
    openapi_extra={
        "requestBody": {"content": {"application/json": {"schema": ImportIn.model_json_schema()}}}
    },
)
async def post_import(request: Request, actor: CurrentActor) -> Response:
    require(actor, "case.register")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise Problem(
            400, "请求体不是有效的 JSON", "body must be a JSON object", type_="bad-request"
        ) from None
    raw = body.get("items") if isinstance(body, dict) else None
    if not isinstance(raw, list) or len(raw) > MAX_BATCH:
        raise Problem(
            422,
            "批量导入内容有误",
            f"items must be a list of at most {MAX_BATCH} cases",
            type_="validation-error",
            errors=[{"field": "items", "message": f"a list of 1 to {MAX_BATCH} items"}],
        )
    rt: ServiceRuntime[IntakeSettings] = request.app.state.runtime
    assessor: Assessor = request.app.state.assessor
    results = await import_batch(rt, preparer_of(request.app), assessor, raw, actor)
    created = sum(1 for o in results if o.created)
    await statistics_of(request.app, rt).loaded(created)
    payload = {
        "created": created,
        "existing": sum(1 for o in results if o.case_no and not o.created),
        "invalid": sum(1 for o in results if o.errors is not None),
        "items": [o.out() for o in results],
    }
    return Response(orjson.dumps(payload), media_type="application/json")
