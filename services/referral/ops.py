"""Referral's read-only ops views (issue 7), behind the gateway's /api/v1/ops: codes and states only.

- ``GET /internal/v1/ops/stalled``: open referrals past a deadline or idle (domain/stalls.py decides),
  and cases waiting in the dispatcher's queue longer than the idle threshold;
- ``GET /internal/v1/ops/facts``: one row per case registered in a period, what statistics count;
- Prometheus gauges refreshed at each scrape: cases by channel, colour and status; referrals by state
  and department; overdue referrals; time in the current state per department (a gauge histogram).

Overdue deadlines are read with ``status = 'open' AND due_at <= now``: a deadline past its last ladder
step has no ``next_check_at`` any more, so the watchdog's index does not hold all of them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import GaugeHistogramMetricFamily
from prometheus_client.registry import Collector
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.referral import scoping, store
from services.referral.actors import Actor
from services.referral.clock import Clock
from services.referral.domain.stalls import Candidate, OpenDeadline, classify
from services.referral.edge import ActorDep
from services.referral.tables import cases, deadlines, dispatch_queue, referrals

router = APIRouter(prefix="/internal/v1/ops", tags=["ops"])

TIME_IN_STATE_BUCKETS_S = (3600.0, 4 * 3600.0, 86400.0, 3 * 86400.0, 7 * 86400.0, 15 * 86400.0, 30 * 86400.0)
OPEN_CASE_STATES = ("registered", "dispatched", "in_progress", "replied", "callback", "reopened")


class StalledOut(BaseModel):
    case_no: str
    kind: str  # deadline | idle
    stage: str | None  # acknowledge | handling | meeting | acceptance | dispatch_queue
    state: str
    department: str | None
    department_name: str | None
    referral_id: str | None
    since: datetime
    due_at: datetime | None
    overdue_minutes: int
    supervision_level: str | None
    # Deadlines counted on weekends only: the year's official holiday schedule is not loaded yet.
    provisional: bool = False
    colour: str
    category: str
    street_code: str | None
    trace_id: str | None


class StalledPage(BaseModel):
    now: datetime
    items: list[StalledOut]


class CaseFactOut(BaseModel):
    case_no: str
    registered_at: datetime
    channel: str
    category: str
    colour: str
    street_code: str | None
    status: str
    dispatched: bool
    lead_department: str | None
    reply_outcome: str | None
    satisfaction: str | None
    closed_at: datetime | None
    overdue: bool


class FactsOut(BaseModel):
    now: datetime
    items: list[CaseFactOut]


def _rt(request: Request) -> ServiceRuntime:
    rt: ServiceRuntime = request.app.state.runtime
    return rt


def _clock(request: Request) -> Clock:
    clock: Clock = request.app.state.usecases.context.clock
    return clock


@router.get("/stalled", response_model=StalledPage, summary="Open referrals past a deadline or idle")
async def get_stalled(
    request: Request, actor: ActorDep, idle_minutes: Annotated[int, Query(ge=1, le=525_600)] = 1440
) -> StalledPage:
    now = _clock(request)()
    async with _rt(request).db.sessions() as session:
        items = await stalled(session, actor, now, timedelta(minutes=idle_minutes))
    return StalledPage(now=now, items=items)


@router.get(
    "/facts",
    response_model=FactsOut,
    summary="One row per case registered in [from, to), or of the case numbers given",
)
async def get_facts(
    request: Request,
    actor: ActorDep,
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: AwareDatetime | None = None,
    case_no: Annotated[list[str] | None, Query(max_length=500)] = None,
) -> FactsOut:
    if case_no is None and (from_ is None or to is None):
        # Every read bounded (issue 16): the gateway resolves and caps the range (hub/ranges.py);
        # a caller without one would read every case ever registered.
        missing = "from" if from_ is None else "to"
        raise Problem(
            422,
            "参数不正确",
            "a range (from and to) or case numbers are required",
            type_="validation-error",
            errors=[{"field": missing, "message": "required unless case_no is given"}],
        )
    now = _clock(request)()
    async with _rt(request).db.sessions() as session:
        return FactsOut(now=now, items=await facts(session, actor, now, from_, to, case_no))


async def stalled(
    session: AsyncSession, actor: Actor, now: datetime, idle_after: timedelta
) -> list[StalledOut]:
    """Of the cases the actor may see (services/referral/scoping.py)."""
    visible = scoping.cases_visible(actor)
    late = (
        await session.execute(
            select(
                deadlines.c.referral_id, deadlines.c.kind, deadlines.c.due_at, deadlines.c.supervision_level
            )
            .join(referrals, referrals.c.id == deadlines.c.referral_id)
            .where(
                deadlines.c.status == "open",
                deadlines.c.kind.in_(store.LADDER_KINDS),
                referrals.c.status.in_(store.OPEN_REFERRAL_STATES),
                referrals.c.suspended.is_(False),
            )
        )
    ).all()
    open_deadlines: dict[str, list[OpenDeadline]] = defaultdict(list)
    for d in late:
        open_deadlines[d.referral_id].append(OpenDeadline(d.kind, d.due_at, d.supervision_level))
    overdue_ids = {rid for rid, ds in open_deadlines.items() if any(d.due_at <= now for d in ds)}
    idle_before = now - idle_after
    rows = (
        await session.execute(
            select(referrals, cases.c.colour, cases.c.category, cases.c.street_code, cases.c.trace_id)
            .join(cases, cases.c.case_no == referrals.c.case_no)
            .where(
                referrals.c.status.in_(store.OPEN_REFERRAL_STATES),
                referrals.c.suspended.is_(False),
                referrals.c.id.in_(overdue_ids) | (referrals.c.updated_at <= idle_before),
                visible,
            )
        )
    ).all()
    out: list[StalledOut] = []
    for r in rows:
        stall = classify(Candidate(r.id, r.updated_at, tuple(open_deadlines[r.id])), now, idle_after)
        if stall is None:
            continue
        due = stall.since if stall.kind == "deadline" else None
        out.append(
            StalledOut(
                case_no=r.case_no,
                kind=stall.kind,
                stage=stall.stage,
                state=r.status,
                department=r.department,
                department_name=r.department_name,
                referral_id=r.id,
                since=stall.since,
                due_at=due,
                overdue_minutes=stall.overdue_minutes,
                supervision_level=stall.supervision_level,
                provisional=bool(r.deadline_provisional),
                colour=r.colour,
                category=r.category,
                street_code=r.street_code,
                trace_id=r.trace_id,
            )
        )
    queued = (
        await session.execute(
            select(dispatch_queue, cases.c.status, cases.c.colour, cases.c.category)
            .add_columns(cases.c.street_code, cases.c.trace_id)
            .join(cases, cases.c.case_no == dispatch_queue.c.case_no)
            .where(dispatch_queue.c.resolved_at.is_(None), dispatch_queue.c.queued_at <= idle_before, visible)
            .order_by(dispatch_queue.c.queued_at)
        )
    ).all()
    seen: set[str] = set()
    for q in queued:
        if q.case_no in seen:
            continue
        seen.add(q.case_no)
        waited = now - q.queued_at - idle_after
        out.append(
            StalledOut(
                case_no=q.case_no,
                kind="idle",
                stage="dispatch_queue",
                state=q.status,
                department=q.department,
                department_name=None,
                referral_id=q.referral_id,
                since=q.queued_at,
                due_at=None,
                overdue_minutes=max(0, int(waited.total_seconds() // 60)),
                supervision_level=None,
                colour=q.colour,
                category=q.category,
                street_code=q.street_code,
                trace_id=q.trace_id,
            )
        )
    out.sort(key=lambda s: -s.overdue_minutes)
    return out


async def facts(
    session: AsyncSession,
    actor: Actor,
    now: datetime,
    start: datetime | None,
    end: datetime | None,
    numbers_only: list[str] | None = None,
) -> list[CaseFactOut]:
    conditions: list[ColumnElement[bool]] = [scoping.cases_visible(actor)]
    if numbers_only is not None:
        conditions.append(cases.c.case_no.in_(numbers_only))
    if start is not None:
        conditions.append(cases.c.registered_at >= start)
    if end is not None:
        conditions.append(cases.c.registered_at < end)
    where = and_(*conditions) if conditions else None
    query = select(cases).order_by(cases.c.registered_at)
    if where is not None:
        query = query.where(where)
    rows = (await session.execute(query)).all()
    numbers = [r.case_no for r in rows]
    leads: dict[str, tuple[int, str]] = {}
    dispatched: set[str] = set()
    overdue: set[str] = set()
    for chunk in _chunks(numbers, 500):
        for ref in await session.execute(
            select(referrals.c.case_no, referrals.c.round, referrals.c.role, referrals.c.department).where(
                referrals.c.case_no.in_(chunk)
            )
        ):
            dispatched.add(ref.case_no)
            if ref.role == "lead" and ref.round >= leads.get(ref.case_no, (0, ""))[0]:
                leads[ref.case_no] = (ref.round, ref.department)
        late = await session.execute(
            select(deadlines.c.case_no)
            .join(referrals, referrals.c.id == deadlines.c.referral_id)
            .where(
                deadlines.c.case_no.in_(chunk),
                deadlines.c.status == "open",
                deadlines.c.kind.in_(store.LADDER_KINDS),
                deadlines.c.due_at <= now,
                referrals.c.status.in_(store.OPEN_REFERRAL_STATES),
            )
        )
        overdue.update(late.scalars())
    return [
        CaseFactOut(
            case_no=r.case_no,
            registered_at=r.registered_at,
            channel=r.channel,
            category=r.category,
            colour=r.colour,
            street_code=r.street_code,
            status=r.status,
            dispatched=r.case_no in dispatched,
            lead_department=leads.get(r.case_no, (0, None))[1],
            reply_outcome=r.reply_outcome,
            satisfaction=r.satisfaction,
            closed_at=r.closed_at,
            overdue=r.case_no in overdue,
        )
        for r in rows
    ]


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- metrics ---------------------------------------------------------------------------------------


class _TimeInState(Collector):
    """Time open referrals have spent in their current state, per department: a gauge histogram
    recomputed at each scrape (a count of what is waiting now, not of past transitions)."""

    def __init__(self) -> None:
        self.ages: dict[tuple[str, str], list[float]] = {}

    def collect(self) -> Iterable[GaugeHistogramMetricFamily]:
        family = GaugeHistogramMetricFamily(
            "hub_referral_time_in_state_seconds",
            "Time open referrals have been in their current state, per department and state",
            labels=["department", "state"],
        )
        for (department, state), ages in sorted(self.ages.items()):
            buckets = [(str(b), float(sum(1 for a in ages if a <= b))) for b in TIME_IN_STATE_BUCKETS_S]
            buckets.append(("+Inf", float(len(ages))))
            family.add_metric([department, state], buckets, sum(ages))
        yield family


class ReferralMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.cases = Gauge(
            "hub_cases",
            "Cases by channel, colour and status",
            ["channel", "colour", "status"],
            registry=registry,
        )
        self.referrals = Gauge(
            "hub_referrals", "Referrals by state and department", ["state", "department"], registry=registry
        )
        self.overdue = Gauge(
            "hub_referrals_overdue",
            "Open referrals past a deadline, by department and deadline kind",
            ["department", "stage"],
            registry=registry,
        )
        self.time_in_state = _TimeInState()
        registry.register(self.time_in_state)

    async def refresh(self, session: AsyncSession, now: datetime) -> None:
        """Counts are grouped in the database; only open referrals are read row by row (their ages)."""
        by_case = cases.c.channel, cases.c.colour, cases.c.status
        case_counts = Counter(
            {
                (r[0], r[1], r[2]): int(r[3])
                for r in await session.execute(select(*by_case, func.count()).group_by(*by_case))
            }
        )
        by_referral = referrals.c.status, referrals.c.department
        referral_counts = Counter(
            {
                (r[0], r[1]): int(r[2])
                for r in await session.execute(select(*by_referral, func.count()).group_by(*by_referral))
            }
        )
        open_rows = (
            await session.execute(
                select(referrals.c.department, referrals.c.status, referrals.c.updated_at)
                .add_columns(referrals.c.dispatched_at, referrals.c.acknowledged_at)
                .where(referrals.c.status.in_(store.OPEN_REFERRAL_STATES))
            )
        ).all()
        late = (
            await session.execute(
                select(referrals.c.department, deadlines.c.kind, func.count())
                .join(referrals, referrals.c.id == deadlines.c.referral_id)
                .where(
                    deadlines.c.status == "open",
                    deadlines.c.kind.in_(store.LADDER_KINDS),
                    deadlines.c.due_at <= now,
                    referrals.c.status.in_(store.OPEN_REFERRAL_STATES),
                )
                .group_by(referrals.c.department, deadlines.c.kind)
            )
        ).all()
        _set(self.cases, case_counts)
        _set(self.referrals, referral_counts)
        _set(self.overdue, Counter({(r[0], r[1]): int(r[2]) for r in late}))
        ages: dict[tuple[str, str], list[float]] = defaultdict(list)
        for r in open_rows:
            entered = _entered(r.status, r.dispatched_at, r.acknowledged_at) or r.updated_at
            ages[(r.department, r.status)].append(max(0.0, (now - entered).total_seconds()))
        self.time_in_state.ages = dict(ages)


def _entered(state: str, dispatched_at: datetime, acknowledged_at: datetime | None) -> datetime | None:
    """When the referral entered its current state (a ladder step touches updated_at, not the state)."""
    if state in ("created", "dispatched"):
        return dispatched_at
    if state in ("acknowledged", "in_progress"):
        return acknowledged_at
    return None


def _set(gauge: Gauge, counts: Counter[Any]) -> None:
    gauge.clear()
    for labels, n in counts.items():
        gauge.labels(*labels).set(n)


def install(app: FastAPI, runtime: ServiceRuntime, clock: Clock) -> None:
    app.include_router(router)
    metrics = ReferralMetrics(runtime.metrics.registry)

    async def refresh() -> None:
        async with runtime.db.sessions() as session:
            await metrics.refresh(session, clock())

    runtime.metric_sources.append(refresh)
