"""Grid workers' reports (网格员随手记, issue 18; docs/decisions/0024-grid-workers.md).

- ``POST /internal/v1/grid/reports`` (grid_worker): a matter seen in the worker's grid, with photos and
  the point where the worker stood. Registered as a case on channel ``grid_app`` through the same
  registration as every case (研判 grades it), the case's location being the worker's community and
  grid. The app's ``client_id`` makes it idempotent: sent again by the same worker (a retry after
  being offline) it is the same case, answered 200 with nothing new stored (first time 201). The
  photos are checked whole before anything is written (services/intake/attachments.py) and stored,
  with the report's facts, in the registration's own transaction.
- ``GET /internal/v1/cases/{case_no}/attachments`` and ``…/attachments/{id}`` (centre): the photos'
  list, and one photo's content (scoped as the case is; no-store).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy import select

from hub.contracts.grid import GridReportFiledV1
from hub.contracts.http.grid import AttachmentOut, GridReportIn, GridReportOut
from hub.problems import Problem
from hub.runtime import ServiceRuntime
from services.intake.actors import Actor, CurrentActor, require
from services.intake.assessment import Assessor
from services.intake.attachments import CheckedAttachment, check_attachments, scanner_of
from services.intake.casework.guards import not_found
from services.intake.domain.model import CaseIn
from services.intake.registration import register_case
from services.intake.scoping import visible_case
from services.intake.settings import IntakeSettings
from services.intake.tables import attachments, grid_reports

router = APIRouter(prefix="/internal/v1", tags=["grid"])


def _runtime(request: Request) -> ServiceRuntime[IntakeSettings]:
    rt: ServiceRuntime[IntakeSettings] = request.app.state.runtime
    return rt


def _grid_of(actor: Actor, body: GridReportIn) -> str:
    if not actor.grid:
        raise Problem(403, "无权限", "只有绑定网格的网格员账号可以上报网格事项", type_="forbidden")
    if body.grid is not None and body.grid != actor.grid:
        raise Problem(403, "无权限", f"只能上报本网格（{actor.grid}）的事项", type_="forbidden")
    return actor.grid


# The case's fields as the report names them (a problem points at what the app sent).
_FIELDS = {"occurred_at": "observed_at", "location.address": "address"}


def _case_in(body: GridReportIn, actor: Actor, grid: str) -> CaseIn:
    community = actor.centre if actor.centre and len(actor.centre) == 12 else None
    data: dict[str, Any] = {
        "channel": "grid_app",
        "request_type": body.request_type,
        "title": body.title,
        "description": body.description,
        "reporter": body.reporter or {"anonymous": True},
        "location": {"address": body.address, "street_code": community, "grid_code": grid},
        "people_involved": body.people_involved,
        "flags": body.flags,
    }
    if body.category:
        data["category"] = body.category
    if body.observed_at:
        data["occurred_at"] = body.observed_at
    try:
        return CaseIn.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": _FIELDS.get(where, where), "message": e["msg"]}
            for e in exc.errors(include_input=False)
            for where in [".".join(str(p) for p in e["loc"])]
        ]
        raise Problem(
            422, "上报内容不正确", "请按提示修改后重新上报", type_="validation-error", errors=errors
        ) from None


@router.post("/grid/reports", status_code=201, response_model=GridReportOut)
async def post_grid_report(
    body: GridReportIn, request: Request, response: Response, actor: CurrentActor
) -> GridReportOut:
    require(actor, "grid.report")
    grid = _grid_of(actor, body)
    case_in = _case_in(body, actor, grid)
    rt = _runtime(request)
    scanner = scanner_of(rt.settings)
    checked = await check_attachments(body.attachments, rt.settings, scanner)
    now = datetime.now(UTC)

    async def with_case(session: Any, case_no: str) -> dict[str, Any]:
        point = body.point
        await session.execute(
            grid_reports.insert().values(
                case_no=case_no,
                grid=grid,
                actor_id=actor.id,
                client_id=body.client_id,
                latitude=point.latitude if point else None,
                longitude=point.longitude if point else None,
                accuracy_m=point.accuracy_m if point else None,
                observed_at=body.observed_at,
                reported_at=now,
            )
        )
        for item in checked:
            await _store(session, case_no, item, actor, now)
        event = GridReportFiledV1(
            case_no=case_no,
            grid=grid,
            person_id=actor.id,
            attachments=len(checked),
            has_point=point is not None,
            reported_at=now,
        )
        await rt.outbox.emit(session, event.TYPE, case_no, event.model_dump(mode="json"))
        return {"grid": grid, "attachments": len(checked), "scanner": scanner.name}

    assessor: Assessor = request.app.state.assessor
    result = await register_case(
        rt, assessor, case_in, f"grid-report:{body.client_id}", actor, with_case=with_case
    )
    if not result.created:
        response.status_code = 200
    async with rt.db.sessions() as session:
        stored = await _attachments_of(session, result.row.case_no)
    return GridReportOut(
        case_no=result.row.case_no,
        colour=result.row.colour,
        created=result.created,
        grid=grid,
        attachments=stored,
    )


async def _store(session: Any, case_no: str, item: CheckedAttachment, actor: Actor, now: datetime) -> None:
    await session.execute(
        attachments.insert().values(
            id=str(uuid.uuid4()),
            case_no=case_no,
            file_name=item.file_name,
            content_type=item.content_type,
            size=item.size,
            sha256=item.sha256,
            scan="clean",
            content=item.content,
            actor_role=actor.role,
            actor_id=actor.id,
            created_at=now,
        )
    )


async def _attachments_of(session: Any, case_no: str) -> list[AttachmentOut]:
    rows = await session.execute(
        select(
            attachments.c.id,
            attachments.c.content_type,
            attachments.c.size,
            attachments.c.sha256,
            attachments.c.created_at,
        )
        .where(attachments.c.case_no == case_no)
        .order_by(attachments.c.created_at, attachments.c.id)
    )
    return [AttachmentOut(**r._mapping) for r in rows]


@router.get("/cases/{case_no}/attachments", response_model=list[AttachmentOut])
async def list_attachments(case_no: str, request: Request, actor: CurrentActor) -> list[AttachmentOut]:
    require(actor, "attachment.read")
    async with _runtime(request).db.sessions() as session:
        if await visible_case(session, case_no, actor) is None:
            raise not_found(case_no)
        return await _attachments_of(session, case_no)


@router.get("/cases/{case_no}/attachments/{attachment_id}")
async def get_attachment(case_no: str, attachment_id: str, request: Request, actor: CurrentActor) -> Response:
    require(actor, "attachment.read")
    async with _runtime(request).db.sessions() as session:
        if await visible_case(session, case_no, actor) is None:
            raise not_found(case_no)
        row = (
            await session.execute(
                select(attachments.c.content_type, attachments.c.content).where(
                    attachments.c.case_no == case_no, attachments.c.id == attachment_id
                )
            )
        ).first()
    if row is None:
        raise Problem(
            404, "未找到该附件", f"事项 {case_no} 没有编号为 {attachment_id} 的附件", type_="not-found"
        )
    return Response(
        row.content,
        media_type=row.content_type,
        headers={"Cache-Control": "no-store", "Content-Disposition": "attachment"},
    )
