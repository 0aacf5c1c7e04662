"""Ops endpoints (API.md "Ops", issue 7): stalled cases, summary, statistics, monthly report, alerts.

Handlers served by the gateway itself; their rows (paths, roles: `ops` and `centre`, read-only) are in
gateway/routes/table.py. No personal data: case
numbers, codes, states, times and trace ids only; a reporter appears as a keyed hash at most.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Query, Request, Response
from pydantic import AwareDatetime, BaseModel

from gateway.ops import report, signals, stats
from gateway.ops.sources import Sources
from gateway.ops.stalls import KINDS, Filters, attach_last_handoff, enrich, select_stalled
from gateway.principals import principal_of
from gateway.settings import GatewaySettings
from gateway.upstream import Upstream
from hub import ranges
from hub.contracts.vocabulary import Colour
from hub.problems import Problem
from hub.runtime import ServiceRuntime

Kind = Literal["deadline", "idle", "outbox", "dead_letter", "adapter_delivery", "sms"]
Code = Annotated[str, Query(max_length=100, pattern=r"^[A-Za-z0-9_@.\-]+$")]


class Handoff(BaseModel):
    event: str
    service: str
    at: datetime
    trace_id: str | None


class StalledItem(BaseModel):
    case_no: str
    kind: str  # deadline | idle | outbox | dead_letter | adapter_delivery | sms
    stage: str | None  # deadline kind, dispatch_queue, event type, external system or SMS template
    state: str | None  # where it sits: the referral's (or case's, or delivery's) state
    department: str | None  # unit code, e.g. police_station@150203001000
    unit: str | None  # the unit's name
    referral_id: str | None
    since: datetime
    due_at: datetime | None
    overdue_minutes: int
    supervision_level: str | None
    provisional: bool = False  # its deadline counts weekends only: that year's schedule is not loaded
    colour: str | None
    category: str | None
    street_code: str | None
    trace_id: str | None  # the case's trace
    last_handoff: Handoff | None
    detail: str | None  # codes only: attempts, error code


class StalledOut(BaseModel):
    total: int
    items: list[StalledItem]
    unavailable: list[str]  # services that did not answer: their stalls are missing from this list


def _sources(request: Request) -> Sources:
    rt: ServiceRuntime[GatewaySettings] = request.app.state.runtime
    upstream: Upstream = request.app.state.upstream
    return Sources(rt, upstream, principal_of(request))


async def get_stalled(
    request: Request,
    department: Code | None = None,
    colour: Colour | None = None,
    street: Code | None = None,
    min_overdue_minutes: Annotated[int | None, Query(ge=0, le=525_600)] = None,  # a year
    kind: Kind | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> StalledOut:
    src = _sources(request)
    wanted = (kind,) if kind else KINDS
    items: list[dict[str, Any]] = []
    if {"deadline", "idle"} & set(wanted):
        items += await src.referral_stalls()
    if "outbox" in wanted:
        items += await src.outbox_stalls()
    if "adapter_delivery" in wanted:
        items += await src.adapter_stalls()
    if "sms" in wanted:
        items += await src.sms_stalls()
    if "dead_letter" in wanted:
        items += await src.dead_letter_stalls()
    bare = [i for i in items if i.get("colour") is None]
    if bare:
        known = await src.case_facts(i["case_no"] for i in bare)
        enrich(bare, known)
        if src.scoped:  # a person sees the plumbing's stalls of the cases in their scope only
            items = [i for i in items if i.get("colour") is not None or i.get("case_no") in known]
    chosen = select_stalled(items, Filters(department, colour, street, min_overdue_minutes, kind))
    page = chosen[:limit]
    attach_last_handoff(page, await src.last_handoffs(i["case_no"] for i in page))
    return StalledOut(
        total=len(chosen),
        items=[StalledItem.model_validate(i) for i in page],
        unavailable=sorted(set(src.unavailable)),
    )


From = Annotated[
    AwareDatetime | None,
    Query(
        alias="from",
        description="Registered at or after (with a time zone); default: `to` less the default window",
    ),
]
To = Annotated[
    AwareDatetime | None,
    Query(
        description="Registered before (with a time zone); default: now, or `from` plus the default window"
    ),
]


def _range(request: Request, start: datetime | None, end: datetime | None) -> ranges.Range:
    """The range resolved and checked before anything is read (422 naming the parameter otherwise)."""
    settings: GatewaySettings = request.app.state.runtime.settings
    return ranges.resolve(
        start,
        end,
        now=datetime.now(UTC),
        default=timedelta(days=settings.ops_range_default_days),
        maximum=timedelta(days=settings.ops_range_max_days),
    )


async def get_summary(request: Request, from_: From = None, to: To = None) -> dict[str, Any]:
    window = _range(request, from_, to)
    facts = await _sources(request).facts(window.start, window.end)
    return {**window.as_dict(), **stats.summary(facts)}


async def get_stats(
    request: Request,
    by: Literal["category", "street", "department", "month", "day"] = "category",
    from_: From = None,
    to: To = None,
) -> dict[str, Any]:
    window = _range(request, from_, to)
    facts = await _sources(request).facts(window.start, window.end)
    rows, total = stats.stats_by(facts, by)
    return {"by": by, **window.as_dict(), "items": rows, "total": total}


_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


async def get_monthly_report(
    request: Request,
    month: Annotated[
        str | None,
        Query(max_length=7, description="YYYY-MM, local time (Asia/Shanghai); default: this month"),
    ] = None,
    format: Literal["csv", "xlsx"] = "csv",
) -> Response:
    month = month or stats.month_of(datetime.now(UTC))
    if not _MONTH.match(month):
        raise Problem(
            422,
            "参数不正确",
            f"month 应为 YYYY-MM 格式（例如 2026-03），收到 {month[:20]!r}",
            type_="validation-error",
            errors=[{"field": "month", "message": "expected YYYY-MM"}],
        )
    start, end = stats.month_range(month)
    facts = await _sources(request).facts(start, end)
    sections: list[tuple[str, list[dict[str, Any]]]] = [
        (dimension, stats.stats_by(facts, dimension)[0]) for dimension in ("category", "department", "street")
    ]
    sections.append(("total", [{"key": month, **stats.stats_by(facts, "month")[1]}]))
    rows = report.report_rows(sections)
    name = f"monthly-report-{month}.{format}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "csv":
        return Response(report.to_csv(rows), media_type="text/csv; charset=utf-8", headers=disposition)
    return Response(
        report.to_xlsx(rows, month),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=disposition,
    )


async def get_alerts(request: Request, at: AwareDatetime | None = None) -> dict[str, Any]:
    settings = request.app.state.runtime.settings
    now = at or datetime.now(UTC)
    burst_window = timedelta(minutes=settings.ops_burst_window_minutes)
    repeat_window = timedelta(days=settings.ops_repeat_reporter_days)
    since = now - max(burst_window, repeat_window)
    rows = await _sources(request).signals(since)
    found = [
        signals.Signal(
            case_no=r["case_no"],
            at=datetime.fromisoformat(r["registered_at"]),
            category=r["category"],
            street_code=r.get("street_code"),
            grid_code=r.get("grid_code"),
            reporter_key=r.get("reporter_key"),
        )
        for r in rows
    ]
    recent = [s for s in found if s.at >= now - burst_window]
    alerts = signals.bursts(recent, burst_window, settings.ops_burst_threshold)
    alerts += signals.repeat_reporters(found, repeat_window, settings.ops_repeat_reporter_threshold)
    return {
        "at": now,
        "settings": {
            "burst_window_minutes": settings.ops_burst_window_minutes,
            "burst_threshold": settings.ops_burst_threshold,
            "repeat_reporter_days": settings.ops_repeat_reporter_days,
            "repeat_reporter_threshold": settings.ops_repeat_reporter_threshold,
        },
        "items": alerts,
    }
