"""Inbound: an external system's work order becomes a case through intake (POST /internal/v1/cases with
channel + source_ref = the system's own number, so a repeated push is the same case); urges and
ratings on a known case become events or callbacks. Used by the webhooks, the back-fill and the
reconciliation alike, so every path into the hub is the same path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.security import released_on_failure, verify_request
from gateway.principals import adapter
from gateway.tables import adapter_inbound, adapter_links
from gateway.upstream import Upstream
from hub.contracts.base import Contract
from hub.contracts.gateway import HotlineRatingReceivedV1, HotlineUrgeReceivedV1
from hub.problems import Problem, validation_errors
from hub.runtime import ServiceRuntime
from hub.upsert import upsert

log = logging.getLogger("hub.gateway.adapters")

PayloadT = TypeVar("PayloadT", bound=BaseModel)


@dataclass(frozen=True)
class Registered:
    case_no: str
    created: bool
    body: dict[str, Any]


async def upsert_link(
    session: AsyncSession,
    *,
    system: str,
    external_ref: str | None,
    case_no: str | None,
    origin: str,
) -> None:
    """Link a case and the system's number for it; a known link only gains its case number."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "system": system,
        "external_ref": external_ref,
        "case_no": case_no,
        "origin": origin,
        "created_at": now,
        "updated_at": now,
    }
    if external_ref is None:
        stmt = upsert(session, adapter_links, ["system", "case_no"], values)
    else:
        stmt = upsert(
            session,
            adapter_links,
            ["system", "external_ref"],
            values,
            update=lambda new: {
                "case_no": func.coalesce(adapter_links.c.case_no, new.case_no),
                "updated_at": now,
            },
        )
    await session.execute(stmt)


async def case_for(session: AsyncSession, system: str, external_ref: str) -> str | None:
    row = (
        await session.execute(
            select(adapter_links.c.case_no).where(
                adapter_links.c.system == system, adapter_links.c.external_ref == external_ref
            )
        )
    ).first()
    return row.case_no if row else None


def _their_errors(problem: dict[str, Any], reverse: Mapping[str, str]) -> list[dict[str, str]]:
    """Intake's field paths (ours) named as the system's fields, so its operators can act on them."""
    out = []
    for err in problem.get("errors") or []:
        field = str(err.get("field", ""))
        theirs = reverse.get(field) or reverse.get(field.split(".")[0]) or field
        out.append({"field": theirs, "message": str(err.get("message", "invalid"))})
    return out


async def register(
    upstream: Upstream,
    system: str,
    external_ref: str,
    case_body: dict[str, Any],
    *,
    reverse_fields: Mapping[str, str] | None = None,
) -> Registered:
    """Register the case at intake (idempotent by channel + source_ref); Problem on refusal."""
    response = await upstream.request(
        "intake", "POST", "/internal/v1/cases", principal=adapter(system), json=case_body
    )
    if response.status_code in (200, 201):
        body: dict[str, Any] = response.json()
        return Registered(body["case_no"], response.status_code == 201, body)
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if response.status_code == 422:
        errors = _their_errors(problem, reverse_fields or {})
        fields = ", ".join(e["field"] for e in errors)
        raise Problem(
            422, "工单内容有误", f"以下字段不正确: {fields}", type_="validation-error", errors=errors
        )
    if response.status_code >= 500:
        raise Problem(503, "服务暂不可用", "受理服务暂时无法处理，请稍后重试", type_="service-unavailable")
    raise Problem(
        response.status_code,
        str(problem.get("title") or "受理失败"),
        str(problem.get("detail") or ""),
        type_=str(problem.get("type") or "about:blank"),
    )


async def register_and_link(
    rt: ServiceRuntime,
    upstream: Upstream,
    system: str,
    external_ref: str,
    case_body: dict[str, Any],
    *,
    origin: str,
    reverse_fields: Mapping[str, str] | None = None,
) -> Registered:
    registered = await register(upstream, system, external_ref, case_body, reverse_fields=reverse_fields)
    async with rt.db.transaction() as session:
        await upsert_link(
            session, system=system, external_ref=external_ref, case_no=registered.case_no, origin=origin
        )
    return registered


async def known_case(rt: ServiceRuntime, system: str, external_ref: str) -> str:
    """The case that answers for the system's number now: a work order merged into another case is
    handled there, so its urges, ratings and answers go to the surviving case."""
    async with rt.db.sessions() as session:
        row = (
            await session.execute(
                select(adapter_links.c.case_no, adapter_links.c.follows_case_no).where(
                    adapter_links.c.system == system, adapter_links.c.external_ref == external_ref
                )
            )
        ).first()
    case_no: str | None = (row.follows_case_no or row.case_no) if row else None
    if case_no is None:
        raise Problem(
            404,
            "未找到该工单",
            f"编号 {external_ref} 的工单未在本平台登记",
            type_="work-order-not-found",
        )
    return case_no


async def _claim_inbound(
    session: AsyncSession, system: str, kind: str, external_id: str, case_no: str
) -> bool:
    stmt = (
        upsert(session, adapter_inbound, ["system", "kind", "external_id"])
        .values(
            system=system, kind=kind, external_id=external_id, case_no=case_no, received_at=datetime.now(UTC)
        )
        .returning(adapter_inbound.c.case_no)
    )
    return (await session.execute(stmt)).first() is not None


async def seen_inbound(rt: ServiceRuntime, system: str, kind: str, external_id: str) -> bool:
    async with rt.db.sessions() as session:
        row = (
            await session.execute(
                select(adapter_inbound.c.case_no).where(
                    adapter_inbound.c.system == system,
                    adapter_inbound.c.kind == kind,
                    adapter_inbound.c.external_id == external_id,
                )
            )
        ).first()
    return row is not None


async def record_urge(
    rt: ServiceRuntime, system: str, case_no: str, urge_id: str, work_order_no: str, urged_at: datetime | None
) -> bool:
    """hotline.urge_received.v1 once per urge (the urge's own id); False if it was seen before."""
    async with rt.db.transaction() as session:
        if not await _claim_inbound(session, system, "urge", urge_id, case_no):
            return False
        event = HotlineUrgeReceivedV1(case_no=case_no, work_order_no=work_order_no, urged_at=urged_at)
        await rt.outbox.emit(session, event.TYPE, case_no, event.model_dump(mode="json"))
    return True


async def record_once(
    rt: ServiceRuntime, system: str, kind: str, external_id: str, case_no: str, event: Contract
) -> bool:
    """Say ``event`` once per (system, kind, their id): False if that id was seen before."""
    async with rt.db.transaction() as session:
        if not await _claim_inbound(session, system, kind, external_id, case_no):
            return False
        await rt.outbox.emit(session, event.TYPE, case_no, event.model_dump(mode="json"))
    return True


async def add_note(
    upstream: Upstream, system: str, case_no: str, text: str, *, key: str, their_field: str
) -> dict[str, Any]:
    """Text the system adds to a known case (a 12345 urge's content): intake keeps it and grades the
    case again with it read. Idempotent on `key`, so a push retried after a crash adds it once."""
    response = await upstream.request(
        "intake",
        "POST",
        f"/internal/v1/cases/{case_no}/notes",
        principal=adapter(system),
        json={"text": text},
        headers={"Idempotency-Key": key},
    )
    if response.status_code in (200, 201):
        body: dict[str, Any] = response.json()
        return body
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if response.status_code == 422:
        raise Problem(
            422,
            "推送内容有误",
            f"以下字段不正确: {their_field}",
            type_="validation-error",
            errors=_their_errors(problem, {"text": their_field}),
        )
    if response.status_code >= 500:
        raise Problem(503, "服务暂不可用", "受理服务暂时无法处理，请稍后重试", type_="service-unavailable")
    raise Problem(
        response.status_code,
        str(problem.get("title") or "补充内容未被接受"),
        str(problem.get("detail") or ""),
        type_=str(problem.get("type") or "about:blank"),
    )


async def record_rating(
    rt: ServiceRuntime,
    upstream: Upstream,
    system: str,
    case_no: str,
    rating_id: str,
    satisfaction: str,
    comment: str | None,
) -> str:
    """The system's callback result (回访): referral's callback, once per rating.

    Returns "callback" (referral took it), "event" (referral has no callback endpoint: the rating
    went out as hotline.rating_received.v1 instead) or "duplicate".
    """
    if await seen_inbound(rt, system, "rating", rating_id):
        return "duplicate"
    body: dict[str, Any] = {"satisfaction": satisfaction}
    if comment:
        body["comment"] = comment
    response = await upstream.request(
        "referral",
        "POST",
        f"/internal/v1/cases/{case_no}/callback",
        principal=adapter(system),
        json=body,
        headers={"Idempotency-Key": f"{system}:rating:{rating_id}"},
    )
    try:
        problem: dict[str, Any] = response.json() if response.status_code >= 400 else {}
    except ValueError:
        problem = {}
    route_absent = response.status_code == 405 or (
        response.status_code == 404 and problem.get("type", "about:blank") == "about:blank"
    )
    if route_absent:
        async with rt.db.transaction() as session:
            if not await _claim_inbound(session, system, "rating", rating_id, case_no):
                return "duplicate"
            event = HotlineRatingReceivedV1(case_no=case_no, satisfaction=satisfaction, comment=comment)  # type: ignore[arg-type]
            await rt.outbox.emit(session, event.TYPE, case_no, event.model_dump(mode="json"))
        return "event"
    if response.status_code >= 500:
        raise Problem(
            503, "服务暂不可用", "分流服务暂时无法处理回访结果，请稍后重试", type_="service-unavailable"
        )
    if response.status_code >= 400:
        raise Problem(
            response.status_code,
            str(problem.get("title") or "回访结果未被接受"),
            str(problem.get("detail") or ""),
            type_=str(problem.get("type") or "about:blank"),
        )
    async with rt.db.transaction() as session:
        await _claim_inbound(session, system, "rating", rating_id, case_no)
    return "callback"


def parse_payload(model: type[PayloadT], body: bytes) -> PayloadT:
    """Their JSON as their model; 422 problem details naming their own fields otherwise."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = validation_errors(exc.errors())
        fields = ", ".join(e["field"] for e in errors)
        raise Problem(
            422, "推送内容有误", f"以下字段不正确: {fields}", type_="validation-error", errors=errors
        ) from None


async def handle_registration(
    request: Request,
    response: Response,
    system: str,
    model: type[PayloadT],
    to_case: Callable[[PayloadT], dict[str, Any]],
    ref_of: Callable[[PayloadT], str],
    reverse_fields: Mapping[str, str],
) -> dict[str, Any]:
    """A signed push of something that becomes a case: verify, map, register once, link; our answer."""
    signed = await verify_request(request, system)
    rt: ServiceRuntime = request.app.state.runtime
    upstream: Upstream = request.app.state.upstream
    async with released_on_failure(rt.db, signed):
        payload = parse_payload(model, signed.body)
        registered = await register_and_link(
            rt,
            upstream,
            system,
            ref_of(payload),
            to_case(payload),
            origin="webhook",
            reverse_fields=reverse_fields,
        )
    response.status_code = 201 if registered.created else 200
    return {
        "case_no": registered.case_no,
        "created": registered.created,
        "status": registered.body.get("status"),
        "colour": registered.body.get("colour"),
        "response_level": registered.body.get("response_level"),
        "trace_id": registered.body.get("trace_id"),
    }
