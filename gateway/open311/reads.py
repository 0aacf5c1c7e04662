"""Open311 GeoReport v2: reading requests back (`GET requests`, `GET requests/{id}`, `GET tokens/{token}`).

These reads need no api_key (the spec's), and each request listed costs one or two internal calls
(its state from referral, else intake): the gateway's timeline is an event log, not the case's state,
so they cannot be answered from it without a second copy of referral's state machine (decision 0021).
So they are bounded instead: a token bucket per client address (HUB_OPEN311_READS_PER_MINUTE,
HUB_OPEN311_READ_BURST; 429 with Retry-After past it), a page of at most HUB_OPEN311_PAGE_SIZE_MAX
requests, and the spec's date range of at most 90 days (the last 90 days by default).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import func, select

from gateway.open311.catalogue import catalogue
from gateway.open311.formats import error, respond
from gateway.open311.routes import BOTH, CHINA, Fmt, Jurisdiction, _check, _Invalid, _iso
from gateway.principals import GATEWAY
from gateway.ratelimit import RateLimiter
from gateway.settings import GatewaySettings
from gateway.tables import open311_requests, timeline
from gateway.upstream import Upstream
from hub.contracts.http.referral import MAX_PAGE
from hub.problems import Problem
from hub.runtime import ServiceRuntime

router = APIRouter(prefix="/open311/v2", tags=["open311"])

MAX_RANGE = timedelta(days=90)  # the spec: "may not span more than 90 days"
LOOKUPS_AT_ONCE = 8


def install(app: Any) -> None:
    """Buckets per client address, in this process (as the per-client limits: gateway/ratelimit.py)."""
    app.state.open311_read_limiter = RateLimiter()


def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.runtime.settings
    return settings


def _refused(request: Request, fmt: str, jurisdiction_id: str | None) -> Response | None:
    """What every public read checks first: the format and jurisdiction, then the address's bucket."""
    return _check(fmt, jurisdiction_id) or _throttled(request, fmt)


def _throttled(request: Request, fmt: str) -> Response | None:
    """One token of the client address's bucket, or the 429 that says when to come back. The address
    is the connection's peer as uvicorn resolved it (X-Forwarded-For only from --forwarded-allow-ips)."""
    settings = _settings(request)
    limiter: RateLimiter = request.app.state.open311_read_limiter
    address = request.client.host if request.client else "-"
    verdict = limiter.take(address, settings.open311_reads_per_minute, burst=settings.open311_read_burst)
    if verdict.allowed:
        return None
    return error(
        fmt,
        429,
        f"too many requests from this address: {settings.open311_reads_per_minute} a minute "
        f"(bursts of {settings.open311_read_burst}); retry after {verdict.retry_after_s} s",
        title="请求过于频繁",
        headers={"Retry-After": str(verdict.retry_after_s)},
    )


def _parse_time(name: str, value: str | None) -> datetime | None:
    if value is None or value.strip() == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Invalid(400, f"{name} must be a W3C date-time, e.g. 2026-11-22T08:00:00+08:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA)


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The spec's date range: at most 90 days; the most recent 90 days when neither end is given."""
    if start is None:
        end = end or datetime.now(UTC)
        start = end - MAX_RANGE
    elif end is None:
        end = start + MAX_RANGE
    if end < start or end - start > MAX_RANGE:
        raise _Invalid(400, "start_date must precede end_date by at most 90 days")
    return start, end


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


async def _case_state(upstream: Upstream, case_no: str) -> dict[str, Any]:
    """The case's state and lead department from referral (intake's state before referral saw it)."""
    answer = await upstream.request("referral", "GET", f"/internal/v1/cases/{case_no}", principal=GATEWAY)
    if answer.status_code == 200:
        data = answer.json()
        lead = next((r for r in data.get("referrals", []) if r.get("role") == "lead"), None)
        return {
            "state": data.get("status", "registered"),
            "agency": lead.get("department_name") if lead else None,
            "due_at": datetime.fromisoformat(lead["due_at"]) if lead and lead.get("due_at") else None,
        }
    answer = await upstream.request("intake", "GET", f"/internal/v1/cases/{case_no}", principal=GATEWAY)
    state = answer.json().get("status", "registered") if answer.status_code == 200 else "registered"
    return {"state": state, "agency": None, "due_at": None}


async def _items(request: Request, rows: list[Any]) -> list[dict[str, Any]]:
    cat = catalogue()
    upstream: Upstream = request.app.state.upstream
    rt: ServiceRuntime = request.app.state.runtime
    numbers = [r.service_request_id for r in rows]
    async with rt.db.sessions() as session:
        updated = dict(
            (
                await session.execute(
                    select(timeline.c.case_no, func.max(timeline.c.at))
                    .where(timeline.c.case_no.in_(numbers))
                    .group_by(timeline.c.case_no)
                )
            ).all()
        )
    slots = asyncio.Semaphore(LOOKUPS_AT_ONCE)

    async def one(row: Any) -> dict[str, Any]:
        async with slots:
            state = await _case_state(upstream, row.service_request_id)
        status, note = cat.open_or_closed(state["state"])
        service = cat.services.get(row.service_code)
        return {
            "service_request_id": row.service_request_id,
            "status": status,
            "status_notes": note,
            "service_name": service.name if service else row.service_code,
            "service_code": row.service_code,
            "description": None,  # withheld: free text of a dispute carries personal data
            "agency_responsible": state["agency"],
            "service_notice": None,
            "requested_datetime": _iso(row.requested_at),
            "updated_datetime": _iso(updated.get(row.service_request_id) or row.requested_at),
            "expected_datetime": _iso(state["due_at"]),
            "address": None,
            "address_id": None,
            "zipcode": None,
            "lat": None,
            "long": None,
            "media_url": None,
        }

    try:
        return list(await asyncio.gather(*(one(r) for r in rows)))
    except Problem as exc:
        raise _Invalid(exc.status, exc.detail or exc.title) from None


@router.get("/requests.{fmt}", summary="Open311: requests filed through Open311", responses=BOTH)
async def get_requests(
    request: Request,
    fmt: Fmt,
    jurisdiction_id: Jurisdiction = None,
    service_request_id: Annotated[str | None, Query(max_length=4000, description="Comma list")] = None,
    service_code: Annotated[str | None, Query(max_length=2000, description="Comma list")] = None,
    start_date: Annotated[str | None, Query(max_length=40)] = None,
    end_date: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20, description="open, closed or both")] = None,
    page_size: Annotated[
        int | None,
        # 1000: HUB_OPEN311_PAGE_SIZE_MAX's own ceiling; the setting caps it further (checked below).
        Query(ge=1, le=1000, description="Requests per page (extension; default and maximum are settings)"),
    ] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page, newest first (extension)")] = 1,
) -> Response:
    if (refusal := _refused(request, fmt, jurisdiction_id)) is not None:
        return refusal
    settings = _settings(request)
    try:
        size = page_size or settings.open311_page_size_default
        if size > settings.open311_page_size_max:
            raise _Invalid(400, f"page_size must be at most {settings.open311_page_size_max}")
        statuses = set(_split(status))
        if statuses - {"open", "closed"}:
            raise _Invalid(400, "status must be open, closed or both (comma separated)")
        ids = _split(service_request_id)
        query = select(open311_requests)
        if ids:  # the spec: a list of ids overrides every other filter
            if len(ids) > settings.open311_page_size_max:
                raise _Invalid(400, f"at most {settings.open311_page_size_max} service_request_id values")
            query = query.where(open311_requests.c.service_request_id.in_(ids))
            statuses = set()
        else:
            start, end = _window(_parse_time("start_date", start_date), _parse_time("end_date", end_date))
            query = query.where(open311_requests.c.requested_at.between(start, end))
            codes = _split(service_code)
            if codes:
                query = query.where(open311_requests.c.service_code.in_(codes))
        query = (
            query.order_by(open311_requests.c.requested_at.desc(), open311_requests.c.service_request_id)
            .limit(size)
            .offset((page - 1) * size)
        )
        rt: ServiceRuntime = request.app.state.runtime
        async with rt.db.sessions() as session:
            rows = list(await session.execute(query))
        items = await _items(request, rows)
    except _Invalid as exc:
        return error(fmt, exc.status, exc.description)
    if statuses:  # the state lives in referral: filtered on the page read (a page may come back shorter)
        items = [i for i in items if i["status"] in statuses]
    return respond(fmt, "service_requests", items)


async def _known(request: Request, service_request_id: str) -> Any:
    rt: ServiceRuntime = request.app.state.runtime
    async with rt.db.sessions() as session:
        return (
            await session.execute(
                select(open311_requests).where(open311_requests.c.service_request_id == service_request_id)
            )
        ).first()


@router.get("/requests/{service_request_id}.{fmt}", summary="Open311: one request", responses=BOTH)
async def get_request(
    request: Request,
    service_request_id: Annotated[str, Path(max_length=64)],
    fmt: Fmt,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    if (refusal := _refused(request, fmt, jurisdiction_id)) is not None:
        return refusal
    row = await _known(request, service_request_id)
    if row is None:
        return error(fmt, 404, f"service_request_id {service_request_id!r} not found")
    try:
        items = await _items(request, [row])
    except _Invalid as exc:
        return error(fmt, exc.status, exc.description)
    return respond(fmt, "service_requests", items)


@router.get(
    "/tokens/{token}.{fmt}",
    summary="Open311: the request id of a token (a case number, or a citizen QR form's status token)",
    responses=BOTH,
)
async def get_token(
    request: Request,
    token: Annotated[str, Path(max_length=64)],
    fmt: Fmt,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    if (refusal := _refused(request, fmt, jurisdiction_id)) is not None:
        return refusal
    if await _known(request, token) is None:
        # A citizen QR form's status token (gateway/citizen, issue 18) names its request too.
        from gateway.citizen import forms, store

        filed = await store.by_token(request.app.state.runtime, forms.token_hash(token))
        if filed is None:
            return error(fmt, 404, f"token {token!r} not found")
        return respond(fmt, "service_requests", [{"service_request_id": filed.case_no, "token": token}])
    return respond(fmt, "service_requests", [{"service_request_id": token, "token": token}])
