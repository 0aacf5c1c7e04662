"""Open311 GeoReport v2 endpoints: services and filing (see gateway/open311/__init__.py for what is shown and
why); reading requests back is gateway/open311/reads.py."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request, Response
from sqlalchemy.exc import IntegrityError

from gateway.auth import ClientAuthenticator, Identity
from gateway.open311.catalogue import Catalogue, Service, catalogue
from gateway.open311.formats import FORMATS, error, respond
from gateway.tables import open311_requests
from gateway.upstream import Upstream
from hub.problems import Problem
from hub.runtime import ServiceRuntime

router = APIRouter(prefix="/open311/v2", tags=["open311"])

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving: a fixed offset is exact
# Our "master address repository" is the statistical division code of the street or community: an
# address_id of that shape routes the request to that street's units.
STREET_CODE = re.compile(r"^[1-8]\d{11}$")
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
