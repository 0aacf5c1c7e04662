"""Open311 GeoReport v2 endpoints (see gateway/open311/__init__.py for what is shown and why)."""

from __future__ import annotations

import asyncio
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gateway.auth import ClientAuthenticator, Identity
from gateway.open311.catalogue import Catalogue, Service, catalogue
from gateway.open311.formats import FORMATS, error, respond
from gateway.principals import GATEWAY
from gateway.tables import open311_requests, timeline
from gateway.upstream import Upstream
from hub.problems import Problem
from hub.runtime import ServiceRuntime

router = APIRouter(prefix="/open311/v2", tags=["open311"])

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving: a fixed offset is exact
MAX_RANGE = timedelta(days=90)
# Our "master address repository" is the statistical division code of the street or community: an
# address_id of that shape routes the request to that street's units.
STREET_CODE = re.compile(r"^[1-8]\d{11}$")
MAX_RESULTS = 200
LOOKUPS_AT_ONCE = 8
BOTH: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON or XML, by the extension",
        "content": {"application/json": {}, "text/xml": {}},
    }
}

Fmt = Annotated[str, Path(description="Response format", json_schema_extra={"enum": list(FORMATS)})]
Jurisdiction = Annotated[str | None, Query(max_length=64, description="Accepted; must be ours if given")]


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(CHINA).isoformat(timespec="seconds") if value else None


def _check(fmt: str, jurisdiction_id: str | None) -> Response | None:
    if fmt not in FORMATS:
        return error("json", 404, f"format {fmt!r} not supported: use .json or .xml")
    cat = catalogue()
    if jurisdiction_id is not None and jurisdiction_id != cat.jurisdiction_id:
        return error(fmt, 404, f"jurisdiction_id not found: this endpoint serves {cat.jurisdiction_id}")
    return None


# ---------------------------------------------------------------- services


def _service_item(cat: Catalogue, s: Service) -> dict[str, Any]:
    return {
        "service_code": s.code,
        "service_name": s.name,
        "description": f"{s.name}（{cat.jurisdiction_name}）",
        "metadata": bool(s.attributes),
        "type": "realtime",
        "keywords": s.keywords,
        "group": s.group,
    }


@router.get("/services.{fmt}", summary="Open311: the services (case categories)", responses=BOTH)
async def get_services(fmt: Fmt, jurisdiction_id: Jurisdiction = None) -> Response:
    if (refusal := _check(fmt, jurisdiction_id)) is not None:
        return refusal
    cat = catalogue()
    return respond(fmt, "services", [_service_item(cat, s) for s in cat.services.values()])


@router.get(
    "/services/{service_code}.{fmt}", summary="Open311: a service definition (attributes)", responses=BOTH
)
async def get_service_definition(
    service_code: Annotated[str, Path(max_length=64)], fmt: Fmt, jurisdiction_id: Jurisdiction = None
) -> Response:
    if (refusal := _check(fmt, jurisdiction_id)) is not None:
        return refusal
    service = catalogue().services.get(service_code)
    if service is None:
        return error(fmt, 404, f"service_code {service_code!r} not found")
    attributes = [
        {
            "variable": True,
            "code": a.code,
            "datatype": a.datatype,
            "required": False,
            "datatype_description": a.datatype_description,
            "order": i,
            "description": a.description,
            "values": [],
        }
        for i, a in enumerate(service.attributes, start=1)
    ]
    return respond(fmt, "service_definition", {"service_code": service.code, "attributes": attributes})


# ---------------------------------------------------------------- POST a request


class _Invalid(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _coordinate(name: str, value: str | None, limit: float) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        number = float(value)
    except ValueError:
        raise _Invalid(400, f"{name} must be a number") from None
    if not math.isfinite(number) or abs(number) > limit:
        raise _Invalid(400, f"{name} out of range")
    return number


def _attribute_values(service: Service, form: Any) -> dict[str, Any]:
    known = {a.code for a in service.attributes}
    values: dict[str, Any] = {}
    for key in form:
        if not (key.startswith("attribute[") and key.endswith("]")):
            continue
        code, raw = key[len("attribute[") : -1], str(form.get(key, "")).strip()
        if code not in known:
            raise _Invalid(400, f"attribute[{code}] is not an attribute of service {service.code}")
        if raw == "":
            continue
        try:
            if code == "people_involved":
                values[code] = int(raw)
            else:
                values[code] = str(Decimal(raw))
        except (ValueError, InvalidOperation):
            raise _Invalid(400, f"attribute[{code}] must be a number") from None
    return values


def _case_body(service: Service, fields: dict[str, str | None], attributes: dict[str, Any]) -> dict[str, Any]:
    lat = _coordinate("lat", fields["lat"], 90)
    long = _coordinate("long", fields["long"], 180)
    if (lat is None) != (long is None):
        raise _Invalid(400, "lat and long must be given together")
    address = (fields["address_string"] or "").strip()
    address_id = (fields["address_id"] or "").strip()
    if not address:
        if lat is not None:
            address = f"坐标 {lat:.6f},{long:.6f}"
        elif address_id:
            address = f"地址编号 {address_id}"
        else:
            raise _Invalid(400, "location required: lat and long, address_string or address_id")
    description = (fields["description"] or "").strip() or service.name
    if len(description) > 4000:
        raise _Invalid(400, "description is longer than 4000 characters")
    first_line = description.splitlines()[0] if description else service.name
    title = first_line if len(first_line) <= 40 else first_line[:39] + "…"
    name = "".join(
        p for p in ((fields["last_name"] or "").strip(), (fields["first_name"] or "").strip()) if p
    )
    phone = (fields["phone"] or "").strip()
    reporter: dict[str, Any] = {"name": name or None, "phone": phone} if phone else {"anonymous": True}
    body: dict[str, Any] = {
        "channel": "web",
        "request_type": service.request_type,
        "title": title,
        "description": description,
        "reporter": reporter,
        "location": {
            "address": address,
            **({"street_code": address_id} if STREET_CODE.match(address_id) else {}),
        },
        **attributes,
    }
    if service.category:
        body["category"] = service.category
    return body


def _upstream_invalid(answer: Any) -> _Invalid:
    try:
        problem = answer.json()
    except ValueError:
        problem = {}
    errors = problem.get("errors") if isinstance(problem, dict) else None
    if answer.status_code == 422 and errors:
        fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)
        return _Invalid(400, f"invalid request ({fields})")
    detail = problem.get("detail") or problem.get("title") if isinstance(problem, dict) else None
    return _Invalid(answer.status_code, str(detail or "request refused"))


async def _api_client(request: Request, api_key: str | None) -> Identity:
    if not api_key:
        raise _Invalid(403, "api_key required")
    authenticator: ClientAuthenticator = request.app.state.client_authenticator
    identity = await authenticator.authenticate_api_key(api_key)
    if identity is None or identity.role != "adapter" or identity.system != "open311":
        raise _Invalid(403, "invalid api_key")
    return identity


@router.post(
    "/requests.{fmt}",
    status_code=201,
    summary="Open311: file a service request (form-encoded; api_key required)",
    responses={201: BOTH[200]},
)
async def post_request(
    request: Request,
    fmt: Fmt,
    api_key: Annotated[str | None, Form(description="`<client_id>.<secret>` of an open311 adapter")] = None,
    jurisdiction_id: Annotated[str | None, Form()] = None,
    service_code: Annotated[str | None, Form()] = None,
    lat: Annotated[str | None, Form()] = None,
    long: Annotated[str | None, Form()] = None,
    address_string: Annotated[str | None, Form()] = None,
    address_id: Annotated[str | None, Form()] = None,
    email: Annotated[str | None, Form(description="Accepted, not stored")] = None,
    device_id: Annotated[str | None, Form(description="Accepted, not stored")] = None,
    account_id: Annotated[str | None, Form(description="Accepted, not stored")] = None,
    first_name: Annotated[str | None, Form()] = None,
    last_name: Annotated[str | None, Form()] = None,
    phone: Annotated[str | None, Form()] = None,
    description: Annotated[str | None, Form()] = None,
    media_url: Annotated[str | None, Form(description="Accepted, not stored")] = None,
) -> Response:
    if (refusal := _check(fmt, jurisdiction_id)) is not None:
        return refusal
    try:
        identity = await _api_client(request, api_key)
        limiter = getattr(request.app.state, "rate_limiter", None)
        if limiter is not None:
            verdict = limiter.take(identity.client_id, identity.rate_limit_per_minute)
            if not verdict.allowed:
                return error(
                    fmt,
                    429,
                    f"rate limit of {identity.rate_limit_per_minute} requests a minute exceeded",
                    headers={"Retry-After": str(verdict.retry_after_s)},
                )
        if not service_code:
            raise _Invalid(400, "service_code required")
        service = catalogue().services.get(service_code)
        if service is None:
            raise _Invalid(400, f"service_code {service_code!r} not found")
        fields = {
            "lat": lat,
            "long": long,
            "address_string": address_string,
            "address_id": address_id,
            "description": description,
            "first_name": first_name,
            "last_name": last_name,
            "phone": phone,
        }
        body = _case_body(service, fields, _attribute_values(service, await request.form()))
        case_no = await _register(request, identity, body)
    except _Invalid as exc:
        return error(fmt, exc.status, exc.description)
    rt: ServiceRuntime = request.app.state.runtime
    try:
        async with rt.db.transaction() as session:
            await session.execute(
                open311_requests.insert().values(
                    service_request_id=case_no,
                    service_code=service.code,
                    client_id=identity.client_id,
                    jurisdiction_id=jurisdiction_id,
                    requested_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        pass  # the same case again (intake recognised a repeat): already recorded
    notice = catalogue().service_notice
    return respond(
        fmt,
        "service_requests",
        [{"service_request_id": case_no, "service_notice": notice, "account_id": None}],
        status=201,
    )


async def _register(request: Request, identity: Identity, body: dict[str, Any]) -> str:
    upstream: Upstream = request.app.state.upstream
    try:
        answer = await upstream.request(
            "intake", "POST", "/internal/v1/cases", principal=identity.principal(), json=body
        )
    except Problem as exc:
        raise _Invalid(exc.status, exc.detail or exc.title) from None
    if answer.status_code not in (200, 201):
        raise _upstream_invalid(answer)
    return str(answer.json()["case_no"])


# ---------------------------------------------------------------- GET requests


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
) -> Response:
    if (refusal := _check(fmt, jurisdiction_id)) is not None:
        return refusal
    try:
        statuses = set(_split(status))
        if statuses - {"open", "closed"}:
            raise _Invalid(400, "status must be open, closed or both (comma separated)")
        ids = _split(service_request_id)
        query = select(open311_requests)
        if ids:  # the spec: a list of ids overrides every other filter
            if len(ids) > MAX_RESULTS:
                raise _Invalid(400, f"at most {MAX_RESULTS} service_request_id values")
            query = query.where(open311_requests.c.service_request_id.in_(ids))
            statuses = set()
        else:
            start, end = _window(_parse_time("start_date", start_date), _parse_time("end_date", end_date))
            query = query.where(open311_requests.c.requested_at.between(start, end))
            codes = _split(service_code)
            if codes:
                query = query.where(open311_requests.c.service_code.in_(codes))
        query = query.order_by(open311_requests.c.requested_at.desc()).limit(MAX_RESULTS)
        rt: ServiceRuntime = request.app.state.runtime
        async with rt.db.sessions() as session:
            rows = list(await session.execute(query))
        items = await _items(request, rows)
    except _Invalid as exc:
        return error(fmt, exc.status, exc.description)
    if statuses:
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
    if (refusal := _check(fmt, jurisdiction_id)) is not None:
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
    summary="Open311: the request id of a token (ours are the case numbers themselves)",
    responses=BOTH,
)
async def get_token(
    request: Request,
    token: Annotated[str, Path(max_length=64)],
    fmt: Fmt,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    if (refusal := _check(fmt, jurisdiction_id)) is not None:
        return refusal
    if await _known(request, token) is None:
        return error(fmt, 404, f"token {token!r} not found")
    return respond(fmt, "service_requests", [{"service_request_id": token, "token": token}])
